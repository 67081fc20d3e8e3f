"""Hyper-parameters and configuration items: the stored maps and the list forms the API exchanges.

Stored shapes (as the clients read them from the task):
- ``hyperparams``: ``{section: {name: {section, name, value, type, description}}}``;
- ``configuration``: ``{name: {name, value, type, description}}``.

Names may contain dots, so edits replace whole maps (see ``TaskContents``) instead of ``$set``-ing dotted paths.
Every function returns a new value and leaves its arguments unchanged.
"""
from __future__ import annotations

from typing import Iterable

# Parameters in this section describe the task rather than configure it; they may change in any status.
PROPERTIES_SECTION = "properties"
REPLACE_NONE, REPLACE_SECTION, REPLACE_ALL = "none", "section", "all"


def normalize_sections(items: Iterable[dict]) -> list[dict]:
    """The items with the properties section spelled in lower case, whatever case the caller used."""
    return [
        {**item, "section": PROPERTIES_SECTION} if str(item.get("section", "")).lower() == PROPERTIES_SECTION else item
        for item in items
    ]


def only_properties(items: Iterable[dict]) -> bool:
    items = list(items)
    return bool(items) and all(item.get("section") == PROPERTIES_SECTION for item in items)


def params_by_section(items: Iterable[dict]) -> dict[str, dict[str, dict]]:
    sections: dict[str, dict[str, dict]] = {}
    for item in items:
        sections.setdefault(item["section"], {})[item["name"]] = dict(item)
    return sections


def params_list(hyperparams: dict | None) -> list[dict]:
    """All parameters as one list, ordered by section and name."""
    items = [param for section in (hyperparams or {}).values() for param in section.values()]
    return sorted(items, key=lambda p: (p.get("section") or "", p.get("name") or ""))


def edit_params(current: dict | None, items: Iterable[dict], replace: str) -> dict:
    new = params_by_section(items)
    if replace == REPLACE_ALL:
        return new
    result = {section: dict(params) for section, params in (current or {}).items()}
    for section, params in new.items():
        if replace == REPLACE_SECTION:
            result[section] = params
        else:
            result.setdefault(section, {}).update(params)
    return result


def delete_params(current: dict | None, keys: Iterable[dict]) -> dict:
    """Remove ``{section, name}`` parameters; a key without a name removes the whole section."""
    result = {section: dict(params) for section, params in (current or {}).items()}
    for key in keys:
        section, name = key["section"], key.get("name")
        if not name:
            result.pop(section, None)
        elif section in result:
            result[section].pop(name, None)
    return result


def edit_configuration(current: dict | None, items: Iterable[dict], replace: bool) -> dict:
    new = {item["name"]: dict(item) for item in items}
    return new if replace else {**(current or {}), **new}


def delete_configuration(current: dict | None, names: Iterable[str]) -> dict:
    doomed = set(names)
    return {name: item for name, item in (current or {}).items() if name not in doomed}


def configuration_list(configuration: dict | None, names: Iterable[str] | None = None) -> list[dict]:
    wanted = set(names) if names else None
    items = [item for name, item in (configuration or {}).items() if wanted is None or name in wanted]
    return sorted(items, key=lambda c: c.get("name") or "")


def configuration_names(configuration: dict | None, skip_empty: bool) -> list[str]:
    return sorted(
        name for name, item in (configuration or {}).items()
        if not skip_empty or (isinstance(item, dict) and item.get("value") not in (None, ""))
    )
