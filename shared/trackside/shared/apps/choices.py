"""Dropdown choices: a fixed list, or a ClearML object source turned into a ``get_all``-style query.

Resolving a source against the database is the API's job (for the calling user); here the shape is checked
and the query body built, so the API only has to run it.
"""
from trackside.shared.apps.checker import join

SOURCE_ENDPOINTS = {
    "project": "projects.get_all",
    "task": "tasks.get_all",
    "model": "models.get_all",
    "queue": "queues.get_all",
    # Our server has no hyper-datasets: dataset versions are the ClearML Data tasks (system tag "dataset").
    "dataset_version": "tasks.get_all",
}
_SOURCE_KEYS = ("source", "display_field", "value_field", "filter")


def is_source(choices) -> bool:
    return isinstance(choices, dict)


def fixed_values(choices) -> list:
    """The values a fixed list allows; an option is a scalar or ``{value, label|name|display}``."""
    return [c.get("value") if isinstance(c, dict) else c for c in choices]


def validate_choices(chk, choices, path: str) -> None:
    if isinstance(choices, list):
        for i, option in enumerate(choices):
            p = join(path, i)
            if isinstance(option, dict):
                chk.keys(option, p, ("value", "label", "name", "display"), required=("value",))
            elif not isinstance(option, (str, int, float, bool)):
                chk.error(p, "an option must be a scalar or {value, label}")
        return
    if not isinstance(choices, dict):
        chk.error(path, "must be a list of options or {source, display_field, value_field, filter}")
        return
    chk.keys(choices, path, _SOURCE_KEYS, required=("source",))
    if "source" in choices and choices["source"] not in SOURCE_ENDPOINTS:
        chk.error(join(path, "source"), f"must be one of {', '.join(SOURCE_ENDPOINTS)}")
    for key in ("display_field", "value_field"):
        if key in choices:
            chk.is_type(choices[key], str, join(path, key))
    flt = choices.get("filter")
    if flt is None:
        return
    if chk.is_type(flt, dict, join(path, "filter")):
        chk.keys(flt, join(path, "filter"), ("fields",))
        if "fields" in flt:
            chk.is_type(flt["fields"], dict, join(path, "filter.fields"))


def choices_query(choices: dict) -> tuple:
    """(endpoint, request body) listing the source's objects: only the two fields, ordered by the display one.

    Filter values are passed as the get_all parameters of the same name (``name`` is a regex there, as in
    the documented ``name: "^(?i)(?!example).*$"``).
    """
    display = choices.get("display_field", "name")
    value = choices.get("value_field", "id")
    body = dict((choices.get("filter") or {}).get("fields") or {})
    if choices["source"] == "dataset_version":
        body.setdefault("system_tags", ["dataset"])
    body["only_fields"] = sorted({display, value})
    body["order_by"] = [display]
    return SOURCE_ENDPOINTS[choices["source"]], body


def options_from_rows(choices: dict, rows: list) -> list:
    """``[{label, value}]`` from the query's rows (dotted fields such as ``project.name`` are followed)."""
    def pick(row, dotted):
        for part in dotted.split("."):
            row = row.get(part) if isinstance(row, dict) else None
        return row
    display = choices.get("display_field", "name")
    value = choices.get("value_field", "id")
    return [{"label": pick(r, display), "value": pick(r, value)} for r in rows]
