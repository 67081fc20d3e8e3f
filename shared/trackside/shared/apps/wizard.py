"""Launch validation: the wizard's values checked and resolved (defaults, conditionals, choices, nesting).

``launch_params`` is keyed by field name, a nested dict for a group and a list for a list (items are dicts
for a list of groups, plain values for a list of one field). Hidden fields (their ``conditional`` unmet)
are neither required nor kept; ``None`` and ``""`` mean "not given".
"""
from trackside.shared.apps.choices import fixed_values, is_source
from trackside.shared.apps.errors import LaunchError
from trackside.shared.apps.values import BadValue, coerce, same_value, same_key

_MISSING = object()


def validate_launch(app: dict, launch_params, allowed_values: dict = None) -> dict:
    """The resolved values, or LaunchError naming every bad field by its path (``group.field``, ``list[1]``).

    ``allowed_values``: for dropdowns whose choices come from a source, ``{field path: allowed values}`` as
    the API read them for the caller; a source field missing there is not checked.
    """
    problems: dict = {}
    entries = app["wizard"]["entries"] if "wizard" in app else app["entries"]
    resolved = _resolve_entries(entries, launch_params, "", problems, allowed_values or {}, {})
    if problems:
        raise LaunchError(problems)
    return resolved


def _given(value) -> bool:
    return value is not None and value != ""


def _path(prefix: str, name) -> str:
    if isinstance(name, int):
        return f"{prefix}[{name}]"
    return f"{prefix}.{name}" if prefix else name


def _resolve_entries(entries, params, prefix, problems, allowed, outer: dict) -> dict:
    if params is None:
        params = {}
    if not isinstance(params, dict):
        problems[prefix or "launch_params"] = "must be an object keyed by field name"
        return {}
    names = {e["name"] for e in entries}
    for key in params:
        if key not in names:
            problems[_path(prefix, key)] = "unknown field"
    values: dict = {}
    scope = dict(outer)  # conditions may name fields of outer scopes too
    for field in entries:
        name, path = field["name"], _path(prefix, field["name"])
        if not all(same_value(scope.get(c["name"]), c["value"]) for c in field["conditional"]):
            continue  # hidden: neither required nor stored
        raw = params.get(name, _MISSING)
        if raw is _MISSING or not _given(raw):
            raw = _default(field, scope)
        if field["type"] == "group":
            value = _resolve_entries(field["item_template"], raw if _given(raw) else {}, path, problems, allowed,
                                     scope)
        elif not _given(raw):
            if field["required"]:
                problems[path] = "is required"
            continue
        else:
            value = _resolve_value(field, raw, path, problems, allowed, scope)
            if value is _MISSING:
                continue
        values[name] = scope[name] = value
    return values


def _default(field, scope):
    spec = field.get("default_conditional_on")
    if spec:
        other = scope.get(spec["name"])
        for key, default in spec["value"].items():
            if other is not None and same_key(key, other):
                return default
    return field.get("default")


def _resolve_value(field, raw, path, problems, allowed, scope):
    ftype = field["type"]
    if ftype == "list":
        return _resolve_list(field, raw, path, problems, allowed, scope)
    if ftype == "group":
        return _resolve_entries(field["item_template"], raw, path, problems, allowed, scope)
    try:
        value = coerce(ftype, raw)
    except BadValue as exc:
        problems[path] = str(exc)
        return _MISSING
    choices = field.get("choices")
    if ftype == "dropdown" and choices is not None:
        options = allowed.get(path, allowed.get(field["name"])) if is_source(choices) else fixed_values(choices)
        if options is not None:
            match = [o for o in options if same_value(value, o)]
            if not match:
                problems[path] = f"{value!r} is not one of the choices"
                return _MISSING
            return match[0]  # the option itself: a form's "2" becomes the choice 2
    return value


def _resolve_list(field, raw, path, problems, allowed, scope):
    if not isinstance(raw, list):
        problems[path] = "must be a list"
        return _MISSING
    if field["required"] and not raw:
        problems[path] = "is required (at least one item)"
        return _MISSING
    template, items = field["item_template"], []
    for i, item in enumerate(raw):
        item_path = _path(path, i)
        if isinstance(template, list):  # each item is a group of fields
            items.append(_resolve_entries(template, item, item_path, problems, allowed, scope))
        else:
            value = _resolve_value(template, item, item_path, problems, allowed, scope) if _given(item) else _MISSING
            if not _given(item):
                problems[item_path] = "is empty"
            elif value is not _MISSING:
                items.append(value)
    return items

