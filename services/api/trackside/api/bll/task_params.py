"""Hyper-parameters and configuration items: the stored maps, the list forms the API exchanges, and the
atomic updates that edit them.

Stored shapes (as the clients read them from the task, once :func:`unescape_task` has run):
- ``hyperparams``: ``{section: {name: {section, name, value, type, description}}}``;
- ``configuration``: ``{name: {name, value, type, description}}``.

In storage the section and name KEYS are escaped (:func:`escape_key`: ``%``, ``.`` and ``$`` percent-encoded),
so every parameter has a MongoDB path of its own and an edit is one ``$set``/``$unset`` of exactly the
parameters it names: concurrent edits of different parameters never touch each other. The items' own
``section``/``name`` values stay as the caller wrote them.
"""
from __future__ import annotations

from typing import Iterable

from trackside.api import errors
from trackside.shared.storage import keys

# Parameters in this section describe the task rather than configure it; they may change in any status.
PROPERTIES_SECTION = "properties"
REPLACE_NONE, REPLACE_SECTION, REPLACE_ALL = "none", "section", "all"

def escape_key(name: str) -> str:
    """A section or parameter name as a MongoDB field name (:mod:`trackside.shared.storage.keys`)."""
    if not isinstance(name, str) or not name.strip():
        raise errors.ValidationError(f"empty section or parameter name: {name!r}", name=name)
    return keys.escape(name)


unescape_key = keys.unescape


def _rekey(mapping: dict | None, key_fn, depth: int) -> dict | None:
    if not isinstance(mapping, dict):
        return mapping
    if depth == 1:
        return {key_fn(key): value for key, value in mapping.items()}
    return {key_fn(key): _rekey(value, key_fn, depth - 1) for key, value in mapping.items()}


def escape_hyperparams(hyperparams: dict | None) -> dict | None:
    return _rekey(hyperparams, escape_key, 2)


def escape_configuration(configuration: dict | None) -> dict | None:
    return _rekey(configuration, escape_key, 1)


def unescape_task(task: dict) -> dict:
    """A stored task's parameter maps with their keys as the clients wrote them (in place; returns ``task``)."""
    if isinstance(task.get("hyperparams"), dict):
        task["hyperparams"] = _rekey(task["hyperparams"], unescape_key, 2)
    if isinstance(task.get("configuration"), dict):
        task["configuration"] = _rekey(task["configuration"], unescape_key, 1)
    return task


def storage_path(path: str) -> str:
    """A client's field path (``only_fields``, ``order_by``) as stored: ``hyperparams.<section>.<name>...`` and
    ``configuration.<name>...`` get their name parts escaped (a dot always separates parts in a path, so a
    name with a dot in it is reached through its whole section)."""
    prefix, _, rest = path.lstrip("-").partition(".")
    named_parts = {"hyperparams": 2, "configuration": 1}.get(prefix)
    if not named_parts or not rest:
        return path
    parts = rest.split(".")
    escaped = [escape_key(p) if i < named_parts and p else p for i, p in enumerate(parts)]
    return path[: len(path) - len(path.lstrip("-"))] + ".".join([prefix, *escaped])


def normalize_sections(items: Iterable[dict]) -> list[dict]:
    """The items with the properties section spelled in lower case, whatever case the caller used."""
    return [
        {**item, "section": PROPERTIES_SECTION} if str(item.get("section", "")).lower() == PROPERTIES_SECTION else item
        for item in items
    ]


def only_properties(items: Iterable[dict]) -> bool:
    items = list(items)
    return bool(items) and all(item.get("section") == PROPERTIES_SECTION for item in items)


def params_list(hyperparams: dict | None) -> list[dict]:
    """All parameters as one list, ordered by section and name (of an unescaped map)."""
    items = [param for section in (hyperparams or {}).values() for param in section.values()]
    return sorted(items, key=lambda p: (p.get("section") or "", p.get("name") or ""))


# -- the atomic updates ------------------------------------------------------------------------------------
def params_update(items: Iterable[dict], replace: str) -> dict:
    """The update for tasks.edit_hyper_params: one ``$set`` per parameter (``replace`` none), per section
    (section) or of the whole map (all)."""
    sections: dict[str, dict[str, dict]] = {}
    for item in items:
        sections.setdefault(escape_key(item["section"]), {})[escape_key(item["name"])] = dict(item)
    if replace == REPLACE_ALL:
        return {"$set": {"hyperparams": sections}}
    if replace == REPLACE_SECTION:
        return {"$set": {f"hyperparams.{section}": params for section, params in sections.items()}}
    return {"$set": {f"hyperparams.{section}.{name}": item
                     for section, params in sections.items() for name, item in params.items()}}


def params_delete_update(keys: Iterable[dict]) -> dict:
    """``$unset`` of ``{section, name}`` parameters; a key without a name removes the whole section."""
    whole = {escape_key(k["section"]) for k in keys if not k.get("name")}
    paths = {f"hyperparams.{section}" for section in whole}
    paths.update(
        f"hyperparams.{escape_key(k['section'])}.{escape_key(k['name'])}"
        for k in keys if k.get("name") and escape_key(k["section"]) not in whole
    )
    return {"$unset": dict.fromkeys(sorted(paths), "")}


def configuration_update(items: Iterable[dict], replace: bool) -> dict:
    named = {escape_key(item["name"]): dict(item) for item in items}
    if replace:
        return {"$set": {"configuration": named}}
    return {"$set": {f"configuration.{name}": item for name, item in named.items()}}


def configuration_delete_update(names: Iterable[str]) -> dict:
    return {"$unset": {f"configuration.{escape_key(name)}": "" for name in names}}


def configuration_list(configuration: dict | None, names: Iterable[str] | None = None) -> list[dict]:
    wanted = set(names) if names else None
    items = [item for name, item in (configuration or {}).items() if wanted is None or name in wanted]
    return sorted(items, key=lambda c: c.get("name") or "")


def configuration_names(configuration: dict | None, skip_empty: bool) -> list[str]:
    return sorted(
        name for name, item in (configuration or {}).items()
        if not skip_empty or (isinstance(item, dict) and item.get("value") not in (None, ""))
    )
