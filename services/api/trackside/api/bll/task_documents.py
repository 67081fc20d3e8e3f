"""The shape of a stored task: defaults for a new one, the writes for an edit, clones, artifacts and model lists.

Pure functions, no database. Sub-documents are always stored (``runtime: {}``, ``script: {}``...) because the
clients project leaves such as ``runtime.version`` and then read ``task["runtime"].get(...)``.
"""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Iterable

from trackside.api.bll.task_params import escape_configuration, escape_hyperparams
from trackside.api.bll.task_status import ARCHIVED_TAG, CREATED, DEVELOPMENT_TAG
from trackside.api.context import Identity
from trackside.shared.ids import new_id

INPUT, OUTPUT = "input", "output"
DEFAULT_ARTIFACT_MODE = OUTPUT
# A child whose parent was deleted keeps a parent id with this prefix.
DELETED_PREFIX = "__DELETED__"

# Sub-documents that tasks.edit merges key by key into the stored one; the others are replaced whole.
MERGED_SUBDOCS = ("script", "execution", "output", "models")
# Fields that tasks.create and tasks.edit accept (``output_dest`` is folded into ``output`` first).
WRITABLE_FIELDS = (
    "name", "type", "comment", "parent", "project", "tags", "system_tags", "script", "execution", "output",
    "hyperparams", "configuration", "models", "container", "runtime",
)
SCRIPT_TEXT_FIELDS = ("binary", "repository", "tag", "branch", "version_num", "entry_point", "working_dir")


def default_execution() -> dict:
    return {"queue": None, "parameters": {}, "model_desc": {}, "model_labels": {}, "artifacts": []}


def empty_models() -> dict:
    return {INPUT: [], OUTPUT: []}


def new_task(identity: Identity, fields: dict, now: datetime) -> dict:
    """A stored task in status ``created`` from already-prepared ``fields``."""
    return {
        "_id": new_id(), "company": identity.company, "user": identity.user,
        "name": fields["name"], "type": fields["type"], "comment": fields.get("comment") or "",
        "parent": fields.get("parent"), "project": fields.get("project"),
        "tags": list(fields.get("tags") or []), "system_tags": list(fields.get("system_tags") or []),
        "status": CREATED, "status_reason": "", "status_message": "", "status_changed": now,
        "created": now, "last_update": now, "last_change": now, "last_changed_by": identity.user,
        "last_iteration": 0, "last_metrics": {},
        "script": fields.get("script") or {},
        "execution": {**default_execution(), **(fields.get("execution") or {})},
        "hyperparams": escape_hyperparams(fields.get("hyperparams")) or {},
        "configuration": escape_configuration(fields.get("configuration")) or {},
        "models": {**empty_models(), **(fields.get("models") or {})},
        "container": fields.get("container") or {},
        "output": fields.get("output") or {},
        "runtime": fields.get("runtime") or {},
    }


def prepare_fields(data: dict, now: datetime) -> dict:
    """The writable fields of a create/edit request, normalized for storage.

    ``None`` means "not given". The legacy ``output_dest`` becomes ``output.destination``, model references
    get their ``updated`` time, artifacts their default mode, and script names and paths lose stray spaces.
    """
    fields = {key: copy.deepcopy(data[key]) for key in WRITABLE_FIELDS if data.get(key) is not None}
    if data.get("output_dest") is not None:
        fields["output"] = {**fields.get("output", {}), "destination": data["output_dest"]}
    if "models" in fields:
        models = fields["models"].items()
        fields["models"] = {kind: stamp_models(items, now) for kind, items in models if items is not None}
    execution = fields.get("execution")
    if execution and execution.get("artifacts") is not None:
        execution["artifacts"] = [with_default_mode(a) for a in execution["artifacts"]]
    if "script" in fields:
        fields["script"] = _stripped_script(fields["script"])
    return fields


def edit_writes(task: dict, fields: dict) -> dict:
    """The ``$set`` for tasks.edit: merged sub-documents are written key by key, everything else whole."""
    writes: dict[str, Any] = {}
    for key, value in fields.items():
        if key in MERGED_SUBDOCS and isinstance(task.get(key), dict):
            writes.update({f"{key}.{sub}": sub_value for sub, sub_value in value.items() if sub_value is not None})
        elif key == "hyperparams":
            writes[key] = escape_hyperparams(value)
        elif key == "configuration":
            writes[key] = escape_configuration(value)
        else:
            writes[key] = value
    return writes


def stamp_models(items: Iterable[dict], now: datetime) -> list[dict]:
    return [{"name": m.get("name"), "model": m.get("model"), "updated": now} for m in items]


def with_default_mode(artifact: dict) -> dict:
    return {**artifact, "mode": artifact.get("mode") or DEFAULT_ARTIFACT_MODE}


def artifact_key(artifact: dict) -> tuple[str, str]:
    """Artifacts are identified by key and mode together."""
    return artifact.get("key"), artifact.get("mode") or DEFAULT_ARTIFACT_MODE


def clone_fields(source: dict, overrides: dict, now: datetime) -> dict:
    """The fields of a copy of ``source`` (an API-shaped task) for :func:`new_task`.

    The definition is copied: script, execution without queue and output artifacts, parameters,
    configuration, container, input models, tags, project and type. Outputs, metrics and run state are not.
    ``overrides`` holds the clone request's ``new_task_*`` values (``None`` = take the source's).
    """
    execution = {**copy.deepcopy(source.get("execution") or {}), **(overrides.get("execution") or {})}
    execution["queue"] = None
    execution["artifacts"] = [a for a in execution.get("artifacts") or [] if artifact_key(a)[1] != OUTPUT]
    input_models = overrides.get("input_models")
    source_models = source.get("models") or {}

    def pick(key: str, source_key: str | None = None) -> Any:
        value = overrides.get(key)
        return copy.deepcopy(source.get(source_key or key)) if value is None else value

    system_tags = overrides.get("system_tags")
    if system_tags is None:
        system_tags = [t for t in source.get("system_tags") or [] if t not in (DEVELOPMENT_TAG, ARCHIVED_TAG)]
    return {
        "name": pick("name"), "comment": pick("comment"), "type": source.get("type"),
        "parent": overrides.get("parent") or _lineage_parent(source),
        "project": pick("project"), "tags": pick("tags"), "system_tags": system_tags,
        "script": copy.deepcopy(source.get("script") or {}),
        "execution": execution,
        "hyperparams": pick("hyperparams"), "configuration": pick("configuration"), "container": pick("container"),
        "output": _destination_only(source.get("output")),
        "models": {
            INPUT: stamp_models(input_models, now) if input_models is not None
            else copy.deepcopy(source_models.get(INPUT) or []),
            OUTPUT: [],
        },
    }


def _lineage_parent(source: dict) -> str:
    """A clone hangs under its source's parent when there is one, as in the reference server."""
    parent = source.get("parent")
    return parent if parent and not parent.startswith(DELETED_PREFIX) else source["id"]


def _destination_only(output: dict | None) -> dict:
    destination = (output or {}).get("destination")
    return {"destination": destination} if destination else {}


def _stripped_script(script: dict) -> dict:
    return {k: v.strip() if k in SCRIPT_TEXT_FIELDS and isinstance(v, str) else v for k, v in script.items()}
