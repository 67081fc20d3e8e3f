"""Custom applications (issue 17): installing packages, the gallery, the launch wizard and launching instances.

Parsing and validation are the shared library's (``trackside.shared.apps``); storage is :mod:`app_store`;
what happens to an instance once it exists (listing, dashboards, stop, relaunch) is :mod:`app_instances`.

Dropdown choices read from projects/tasks/models/queues are read through ``read_choices(endpoint, body)``,
which the endpoint layer runs as that get_all call of the caller (same filters, same visibility).
"""
from __future__ import annotations

import copy
from typing import Callable

from trackside.api import errors
from trackside.api.bll.app_instances import AppInstances
from trackside.api.bll.app_store import MAX_STORED_ASSET_BYTES, AppStore
from trackside.api.bll.app_summary import summary
from trackside.api.bll.common import HIDDEN_TAG
from trackside.api.context import Identity
from trackside.shared.apps import LaunchError, PackageError, Problem, apply_targets, load_package, validate_launch
from trackside.shared.apps.choices import choices_query, is_source, options_from_rows
from trackside.shared.apps.targets import base_task_fields

APPLICATION_TYPE = "application"  # the instance task's type and system tag
APPLICATIONS_PROJECT = ".applications"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")

ReadChoices = Callable[[str, dict], list]


def invalid_fields(message: str, problems: dict) -> errors.APIError:
    return errors.ValidationError(message, fields=problems)


class AppsBLL:
    def __init__(self, store: AppStore, tasks, projects, users):
        self.store = store
        self.tasks = tasks
        self.projects = projects
        self.instances = AppInstances(self, users)

    # -- installing ------------------------------------------------------------------------------------
    def upload(self, identity: Identity, data: bytes, filename: str) -> dict:
        """Validate the whole package first: a bad one stores nothing (400 listing every problem)."""
        name = filename or "package"
        if not name.lower().endswith(ARCHIVE_SUFFIXES):
            raise errors.ValidationError(f"filename {name!r} must end with .zip, .tar.gz or .tgz",
                                         fields=["filename"])
        try:
            package = load_package(data, name)
            size = sum(len(blob) for blob in package.assets.values())
            if size > MAX_STORED_ASSET_BYTES:
                raise PackageError([Problem(name, "assets", f"{size} bytes of assets, over the {MAX_STORED_ASSET_BYTES}"
                                                           " bytes one version may store")])
        except PackageError as exc:
            raise errors.ValidationError(
                str(exc), problems=[{"file": p.file, "path": p.path, "message": p.message} for p in exc.problems],
            ) from None
        replaced = self.store.save(identity, package)
        return {"app": {"id": package.id, "version": package.version}, "replaced": replaced}

    def set_enabled(self, identity: Identity, app_id: str, enabled: bool) -> dict:
        return {"updated": self.store.set_enabled(identity.company, app_id, enabled)}

    def delete(self, identity: Identity, app_id: str) -> dict:
        return {"deleted": self.store.delete(identity.company, app_id)}

    # -- reading ---------------------------------------------------------------------------------------
    def get_apps(self, company: str, ids: list[str] | None, category: str | None, include_disabled: bool) -> list:
        docs = self.store.listed(company, ids, include_disabled)
        counts = self.instances.counts(company, [d["app_id"] for d in docs])
        out = []
        for doc in docs:
            version = self.store.version(company, doc["app_id"], doc["version"])
            if version is None:
                continue
            if category is not None and version["app"].get("category") != category:
                continue
            out.append(summary(version["app"], doc.get("enabled", True), counts.get(doc["app_id"])))
        return sorted(out, key=lambda a: (a["featured"] if a["featured"] is not None else 500, a["name"] or ""))

    def get_asset(self, company: str, app_id: str, version: str | None, name: str) -> bytes:
        app_doc = self.store.require(company, app_id)
        data = self.store.asset(company, app_id, version or app_doc["version"], name)
        if data is None:
            raise errors.InvalidId(f"invalid asset: {name!r} not found in app {app_id!r} version "
                                   f"{version or app_doc['version']!r}", id=name)
        return data

    def info_template(self, company: str, app_id: str, version: str | None) -> dict:
        return {"dashboard": self.app_version(company, app_id, version)["app"].get("dashboard") or {"lines": []}}

    def app_version(self, company: str, app_id: str, version: str | None) -> dict:
        """A stored version (the current one when ``version`` is None); unknown: 400 invalid id."""
        if version is None:
            return self.store.current(company, app_id)[1]
        self.store.require(company, app_id)
        found = self.store.version(company, app_id, version)
        if found is None:
            raise errors.InvalidId(f"invalid app version: app {app_id!r} has no version {version!r}", id=version)
        return found

    # -- the launch wizard -----------------------------------------------------------------------------
    def launch_template(self, identity: Identity, app_id: str, read_choices: ReadChoices) -> dict:
        app_doc, version = self.store.current(identity.company, app_id)
        app = version["app"]
        counts = self.instances.counts(identity.company, [app_id])[app_id]
        entries = _with_choices(copy.deepcopy(app["wizard"]["entries"]), read_choices)
        return {"app": summary(app, app_doc.get("enabled", True), counts), "entries": entries}

    def launch(self, identity: Identity, app_id: str, launch_params: dict, task_name: str | None,
               read_choices: ReadChoices) -> dict:
        """Validate the values against the app's current version, create the instance task and enqueue it."""
        app, values = self.checked_launch(identity, app_id, launch_params, read_choices)
        return self.start_instance(identity, app, launch_params, values, task_name)

    def checked_launch(self, identity: Identity, app_id: str, launch_params: dict,
                       read_choices: ReadChoices) -> tuple[dict, dict]:
        """(the app's current version, the resolved values); 400 naming every bad field, or a disabled app."""
        app_doc, version = self.store.current(identity.company, app_id)
        if not app_doc.get("enabled", True):
            raise errors.ValidationError(f"app {app_id!r} is disabled: enable it to launch instances", fields=["app"])
        app = version["app"]
        try:
            values = validate_launch(app, launch_params, _allowed_values(app["wizard"]["entries"], read_choices))
        except LaunchError as exc:
            raise invalid_fields(str(exc), exc.problems) from None
        return app, values

    def start_instance(self, identity: Identity, app: dict, launch_params: dict, values: dict,
                       task_name: str | None) -> dict:
        task_id = self._create_instance(identity, app, launch_params, values, task_name)
        self.tasks.transitions.enqueue(identity, task_id, None, app["default_queue"], False, "launched",
                                       f"launched from app {app['id']} {app['version']}")
        return {"id": task_id}

    def _create_instance(self, identity: Identity, app: dict, launch_params: dict, values: dict,
                         task_name: str | None) -> str:
        section = app.get("task") or {}
        fields = apply_targets(base_task_fields(app), app["wizard"]["entries"], values)
        data = {
            **fields, "name": task_name or section.get("name") or app["name"], "type": APPLICATION_TYPE,
            "system_tags": [APPLICATION_TYPE], "tags": list(section.get("tags") or []),
            "container": copy.deepcopy(section.get("container")) or None,
            "project": self._instances_project(identity, app["name"]),
        }
        application = {"app_id": app["id"], "version": app["version"], "resumable": bool(app.get("resumable")),
                       "launch_params": copy.deepcopy(launch_params or {})}
        return self.tasks.create(identity, data, application=application)

    def _instances_project(self, identity: Identity, app_name: str) -> str:
        """``.applications/<app name>``, hidden (like the reference's hidden system projects), made once."""
        name = f"{APPLICATIONS_PROJECT}/{app_name.replace('/', '-').strip() or 'app'}"
        existing = self.projects.find_by_name(identity.company, name)
        if existing:
            return existing["id"]
        try:
            return self.projects.create(identity, name, {"system_tags": [HIDDEN_TAG, APPLICATION_TYPE]})
        except errors.ExpectedUniqueData:  # created concurrently by another launch
            return self.projects.find_by_name(identity.company, name)["id"]


def _source_fields(entries: list, prefix: str = ""):
    """(path, field) of every dropdown whose choices come from a source, groups and list items included."""
    for field in entries or []:
        if not isinstance(field, dict):
            continue
        path = f"{prefix}.{field['name']}" if prefix else field["name"]
        template = field.get("item_template")
        if field["type"] == "dropdown" and is_source(field.get("choices")):
            yield path, field
        if isinstance(template, list):
            yield from _source_fields(template, path)
        elif isinstance(template, dict):
            yield from _source_fields([template], path)


def _options(field: dict, read_choices: ReadChoices) -> list:
    endpoint, body = choices_query(field["choices"])
    return options_from_rows(field["choices"], read_choices(endpoint, body))


def _allowed_values(entries: list, read_choices: ReadChoices) -> dict:
    """{field path: allowed values} for source dropdowns, read for the caller (also keyed by bare name, which
    list items are looked up by)."""
    allowed: dict = {}
    for path, field in _source_fields(entries):
        values = [o["value"] for o in _options(field, read_choices)]
        allowed[path] = values
        allowed.setdefault(field["name"], values)
    return allowed


def _with_choices(entries: list, read_choices: ReadChoices) -> list:
    """The wizard entries with every dropdown's ``choices`` as ``[{label, value}]`` (sources read now)."""
    for field in entries:
        choices = field.get("choices")
        if field["type"] in ("dropdown", "string") and choices is not None:
            if is_source(choices):
                field["choices_source"] = choices
                field["choices"] = _options(field, read_choices)
            else:
                field["choices"] = [_fixed_option(option) for option in choices]
        template = field.get("item_template")
        if isinstance(template, list):
            _with_choices(template, read_choices)
        elif isinstance(template, dict):
            _with_choices([template], read_choices)
    return entries


def _fixed_option(option) -> dict:
    if isinstance(option, dict):
        label = next((option[k] for k in ("label", "name", "display") if option.get(k) is not None), option["value"])
        return {"label": str(label), "value": option["value"]}
    return {"label": str(option), "value": option}
