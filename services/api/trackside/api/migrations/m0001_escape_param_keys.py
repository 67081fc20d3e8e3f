"""0001: hyper-parameter and configuration keys escaped; legacy execution fields as typed items.

The previous layout stored ``tasks.hyperparams`` / ``tasks.configuration`` with the names as written: a name
with a dot was either kept as a dotted key or, when set by path, nested one level per dot; ``%`` and ``$``
were kept as they were. Today each key is ``task_params.escape_key`` of its name. Old clients'
``execution.parameters`` / ``execution.model_desc`` were kept as sent; today they are hyper-parameters and
configuration items of type ``legacy`` (``task_compat.prepare_for_save``) and the execution fields are empty.

Idempotent: the new keys come from each item's own ``section`` / ``name`` fields where it has them, so a task
already migrated (or written by today's code) maps onto itself and is not written again. An item without a
name is named by its path; a single key that already reads as escaped is taken as escaped.
"""
from __future__ import annotations

import logging

from pymongo import UpdateOne
from pymongo.database import Database

from trackside.api import errors
from trackside.api.bll.task_compat import prepare_for_save
from trackside.api.bll.task_params import escape_key, unescape_key
from trackside.api.migrations.step import Progress, Step

BATCH = 200
FIELDS = {"hyperparams": 1, "configuration": 1, "execution.parameters": 1, "execution.model_desc": 1}
LATEST = (9, 99)  # any version past every compatibility switch: only the legacy-parameter moves apply

log = logging.getLogger(__name__)


def _is_item(value) -> bool:
    """A parameter or configuration item (not a level of wrong nesting): it has a scalar name or value."""
    return isinstance(value, dict) and any(key in value and not isinstance(value[key], dict)
                                           for key in ("name", "value", "section", "type"))


def _leaves(tree: dict, path: tuple = ()):
    """(path of keys, item) for every item under ``tree``, however deeply a dotted name was nested."""
    for key, value in tree.items():
        if _is_item(value):
            yield (*path, key), value
        elif isinstance(value, dict):
            yield from _leaves(value, (*path, key))


def _name_from_path(parts: tuple) -> str:
    if len(parts) > 1:
        return ".".join(parts)  # nested by a dotted path: the parts are the name's raw pieces
    key = parts[0]
    return unescape_key(key) if _safe_escape(unescape_key(key)) == key else key


def _safe_escape(name) -> str | None:
    try:
        return escape_key(name)
    except errors.ValidationError:
        return None  # an empty name: kept under its stored key


def raw_hyperparams(stored) -> dict:
    """``{section: {name: item}}`` keyed by the names as written."""
    result: dict = {}
    for section_key, params in (stored or {}).items() if isinstance(stored, dict) else ():
        if not isinstance(params, dict):
            continue
        for parts, item in _leaves(params):
            section = item.get("section") if isinstance(item.get("section"), str) else _name_from_path((section_key,))
            name = item.get("name") if isinstance(item.get("name"), str) else _name_from_path(parts)
            result.setdefault(section, {})[name] = item
    return result


def raw_configuration(stored) -> dict:
    result: dict = {}
    for parts, item in _leaves(stored) if isinstance(stored, dict) else ():
        name = item.get("name") if isinstance(item.get("name"), str) else _name_from_path(parts)
        result[name] = item
    return result


def _flat(values, prefix: str = "") -> dict:
    """Legacy ``{name: value}`` maps, with names a dotted path had nested joined back."""
    flat = {}
    for key, value in (values or {}).items():
        name = f"{prefix}.{key}" if prefix else key
        flat.update(_flat(value, name) if isinstance(value, dict) else {name: value})
    return flat


def _escaped(mapping: dict, depth: int) -> dict:
    out = {}
    for name, value in mapping.items():
        key = _safe_escape(name) or name
        out[key] = _escaped(value, depth - 1) if depth > 1 else value
    return out


def migrated(task: dict) -> dict:
    """The ``$set`` that brings one stored task to today's layout (empty when it is there already)."""
    hyperparams, configuration = raw_hyperparams(task.get("hyperparams")), raw_configuration(task.get("configuration"))
    execution = task.get("execution") or {}
    legacy = {key: _flat(execution.get(key)) for key in ("parameters", "model_desc") if execution.get(key)}
    if legacy:
        if "parameters" in legacy:  # a name prepare_for_save would refuse cannot have been sent: drop it
            legacy["parameters"] = {k: v for k, v in legacy["parameters"].items() if k not in ("", "TF_DEFINE/")}
        try:
            saved = prepare_for_save({"execution": legacy, "hyperparams": hyperparams,
                                      "configuration": configuration}, LATEST)
            hyperparams, configuration = saved.get("hyperparams") or {}, saved.get("configuration") or {}
        except errors.ValidationError as exc:  # a malformed legacy name: keep the task readable, say why
            log.warning("task %s: legacy parameters not moved: %s", task.get("_id"), exc)
            legacy = {}
    changes = {}
    new_hyperparams, new_configuration = _escaped(hyperparams, 2), _escaped(configuration, 1)
    if "hyperparams" in task and new_hyperparams != task.get("hyperparams"):
        changes["hyperparams"] = new_hyperparams
    if "configuration" in task and new_configuration != task.get("configuration"):
        changes["configuration"] = new_configuration
    if legacy:
        changes.update({"hyperparams": new_hyperparams, "configuration": new_configuration})
        changes.update({f"execution.{key}": {} for key in legacy})
    return changes


def apply(db: Database, progress: Progress) -> int:
    tasks, changed, batch = db["tasks"], 0, []
    for task in tasks.find({}, FIELDS, batch_size=BATCH):
        changes = migrated(task)
        if changes:
            batch.append(UpdateOne({"_id": task["_id"]}, {"$set": changes}))
        if len(batch) >= BATCH:
            changed += tasks.bulk_write(batch, ordered=False).modified_count
            batch = []
            progress()
    if batch:
        changed += tasks.bulk_write(batch, ordered=False).modified_count
    return changed


STEP = Step("0001_escape_param_keys",
            "tasks.hyperparams/configuration keys escaped; execution.parameters/model_desc as legacy items", apply)
