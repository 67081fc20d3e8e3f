"""Validation of ``wizard.entries``: field types, targets, conditionals, defaults, choices, item templates.

Entries come back normalised (every key present, ``required`` false, lists' target format json) so that
the launch code and the web app's wizard never have to guess a default.
"""
import re

from trackside.shared.apps.checker import join
from trackside.shared.apps.choices import fixed_values, validate_choices
from trackside.shared.apps.values import BASIC_TYPES, FIELD_TYPES, BadValue, coerce

ENTRY_KEYS = ("name", "title", "info", "type", "required", "default", "placeholder", "collapsible",
              "collapsibleTitleTemplate", "conditional", "default_conditional_on", "autocomplete", "choices",
              "target", "item_template")
FIELD_REF = re.compile(r"\$\{([^}]*)\}")
TARGET_FIELDS = ("hyperparams", "configuration")
FORMATS = ("str", "json")


def validate_wizard(chk, wizard, path: str = "wizard") -> list:
    if not chk.is_type(wizard, dict, path):
        return []
    chk.keys(wizard, path, ("entries",), required=("entries",))
    entries = wizard.get("entries", [])
    if not chk.is_type(entries, list, join(path, "entries")):
        return []
    return validate_entries(chk, entries, join(path, "entries"), earlier=(), needs_target=True)


def validate_entries(chk, entries: list, path: str, earlier, needs_target: bool) -> list:
    """``earlier``: names already visible (outer scopes); a field may be conditioned on those and on the
    fields before it in its own list, never on itself or a later one."""
    scope_names = [e.get("name") for e in entries if isinstance(e, dict)]
    seen, out = list(earlier), []
    for i, entry in enumerate(entries):
        p = join(path, i)
        if not chk.is_type(entry, dict, p):
            continue
        field = _validate_entry(chk, entry, p, seen, scope_names, needs_target)
        name = entry.get("name")
        if isinstance(name, str):
            if name in scope_names[:i]:
                chk.error(join(p, "name"), f"duplicate field name {name!r}")
            seen.append(name)
        out.append(field)
    return out


def _refers(chk, name, path: str, seen, scope_names, own_name):
    if not chk.is_type(name, str, path):
        return
    if name in seen:
        return
    if name == own_name or name in scope_names:
        chk.error(path, f"names {name!r}, which is not an earlier field")
    else:
        chk.error(path, f"names an unknown field {name!r}")


def _validate_entry(chk, entry: dict, p: str, seen, scope_names, needs_target: bool) -> dict:
    chk.keys(entry, p, ENTRY_KEYS, required=("name", "type"))
    name, ftype = entry.get("name"), entry.get("type")
    if "name" in entry:
        chk.is_type(name, str, join(p, "name"))
    if "type" in entry and ftype not in FIELD_TYPES:
        chk.error(join(p, "type"), f"unknown wizard type {ftype!r} (one of {', '.join(FIELD_TYPES)})")
    for key, kind in (("title", str), ("info", str), ("placeholder", str), ("collapsibleTitleTemplate", str),
                      ("required", bool), ("collapsible", bool), ("autocomplete", bool)):
        if key in entry:
            chk.is_type(entry[key], kind, join(p, key))
    field = {key: entry.get(key) for key in ENTRY_KEYS}
    field["title"] = entry.get("title", name)
    field["required"] = entry.get("required") is True
    field["conditional"] = _conditional(chk, entry, p, seen, scope_names, name)
    field["default_conditional_on"] = _default_on(chk, entry, p, seen, scope_names, name)
    _choices(chk, entry, p, ftype)
    field["target"] = _target(chk, entry, p, ftype)
    # A group without a target stores each of its fields at their own targets instead.
    if needs_target and ftype in FIELD_TYPES and ftype != "group" and "target" not in entry:
        chk.error(join(p, "target"), "is required: this field's value must be stored in the task")
    children_need_target = needs_target and ftype == "group" and "target" not in entry
    field["item_template"] = _item_template(chk, entry, p, ftype, seen, children_need_target)
    _title_template(chk, entry, field["item_template"], p)
    _defaults(chk, entry, field, p, ftype)
    return field


def _conditional(chk, entry, p, seen, scope_names, own):
    if "conditional" not in entry:
        return []
    cp = join(p, "conditional")
    cond = entry["conditional"]
    if not chk.is_type(cond, dict, cp):
        return []
    chk.keys(cond, cp, ("entries",), required=("entries",))
    items = cond.get("entries", [])
    if not chk.is_type(items, list, join(cp, "entries")):
        return []
    out = []
    for j, item in enumerate(items):
        ip = join(join(cp, "entries"), j)
        if not chk.is_type(item, dict, ip):
            continue
        chk.keys(item, ip, ("name", "value"), required=("name", "value"))
        if "name" in item:
            _refers(chk, item["name"], join(ip, "name"), seen, scope_names, own)
        out.append({"name": item.get("name"), "value": item.get("value")})
    return out


def _default_on(chk, entry, p, seen, scope_names, own):
    if "default_conditional_on" not in entry:
        return None
    dp = join(p, "default_conditional_on")
    spec = entry["default_conditional_on"]
    if not chk.is_type(spec, dict, dp):
        return None
    chk.keys(spec, dp, ("name", "value"), required=("name", "value"))
    if "name" in spec:
        _refers(chk, spec["name"], join(dp, "name"), seen, scope_names, own)
    if "value" in spec and chk.is_type(spec["value"], dict, join(dp, "value")):
        ftype = entry.get("type")
        for key, default in spec["value"].items():
            if ftype in BASIC_TYPES:
                try:
                    coerce(ftype, default)
                except BadValue as exc:
                    chk.error(join(join(dp, "value"), key), f"default {exc}")
    return spec


def _choices(chk, entry, p, ftype):
    if "choices" not in entry:
        if ftype == "dropdown":
            chk.error(join(p, "choices"), "is required for a dropdown")
        return
    if ftype not in ("dropdown", "string"):
        chk.error(join(p, "choices"), f"only a dropdown (or a string's suggestions) has choices, not {ftype!r}")
    validate_choices(chk, entry["choices"], join(p, "choices"))


def _target(chk, entry, p, ftype):
    if "target" not in entry:
        return None
    tp = join(p, "target")
    target = entry["target"]
    if not chk.is_type(target, dict, tp):
        return None
    chk.keys(target, tp, ("field", "section", "name", "format"), required=("field", "name"))
    kind = target.get("field")
    if "field" in target and kind not in TARGET_FIELDS:
        chk.error(join(tp, "field"), "must be hyperparams or configuration")
    if kind == "hyperparams" and "section" not in target:
        chk.error(join(tp, "section"), "is required for a hyperparams target")
    if kind == "configuration" and "section" in target:
        chk.error(join(tp, "section"), "only a hyperparams target has a section")
    for key in ("section", "name"):
        if key in target:
            chk.is_type(target[key], str, join(tp, key))
    default_format = "json" if ftype in ("list", "group") else "str"
    fmt = target.get("format", default_format)
    if fmt not in FORMATS:
        chk.error(join(tp, "format"), "must be str or json")
    elif ftype in ("list", "group") and fmt != "json":
        chk.error(join(tp, "format"), f"a {ftype} is stored as JSON: format must be json")
    return {"field": kind, "section": target.get("section"), "name": target.get("name"), "format": fmt}


def _item_template(chk, entry, p, ftype, seen, children_need_target):
    tp = join(p, "item_template")
    template = entry.get("item_template")
    if ftype not in ("group", "list"):
        if "item_template" in entry:
            chk.error(tp, f"only a group or a list has an item_template, not {ftype!r}")
        return None
    if template is None:
        chk.error(tp, f"is required for a {ftype}")
        return None
    # Fields inside a list's item are stored with the list (one JSON value): they need no target.
    needs = children_need_target if ftype == "group" else False
    if isinstance(template, list):
        return validate_entries(chk, template, tp, seen, needs)
    if ftype == "list" and isinstance(template, dict):
        # A list of single values: the template is one field (its name only labels the item).
        return validate_entries(chk, [template], tp, seen, False)[0] if template else None
    chk.error(tp, "must be a list of entries" + (" or one entry" if ftype == "list" else ""))
    return None


def _defaults(chk, entry, field, p, ftype):
    if "default" not in entry:
        return
    dp, default = join(p, "default"), entry["default"]
    if ftype in BASIC_TYPES:
        try:
            field["default"] = coerce(ftype, default)
        except BadValue as exc:
            chk.error(dp, str(exc))
            return
        choices = entry.get("choices")
        if ftype == "dropdown" and isinstance(choices, list) and default not in fixed_values(choices):
            chk.error(dp, "is not one of the choices")
    elif ftype == "list":
        chk.is_type(default, list, dp)
    elif ftype == "group":
        chk.is_type(default, dict, dp)



def _title_template(chk, entry, template, p):
    """``collapsibleTitleTemplate: "Layer ${size}"`` may only name fields of the item."""
    text = entry.get("collapsibleTitleTemplate")
    if not isinstance(text, str) or template is None:
        return
    items = template if isinstance(template, list) else [template]
    names = {e.get("name") for e in items}
    for ref in FIELD_REF.findall(text):
        if ref not in names:
            chk.error(join(p, "collapsibleTitleTemplate"), f"${{{ref}}} names no field of the item_template")
