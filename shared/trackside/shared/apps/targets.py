"""Writing launch values into the instance task: ``hyperparams`` section/name or ``configuration`` name.

The task dict uses the ClearML API shape (``hyperparams: {section: {name: {section, name, value}}}``,
``configuration: {name: {name, value, type}}``); values are strings, as ClearML stores them.
"""
import json


def format_value(value, fmt: str) -> str:
    """``json`` gives JSON text (lists, groups); ``str`` gives what the ClearML SDK itself writes (str())."""
    if fmt == "json":
        return json.dumps(value)
    return value if isinstance(value, str) else str(value)


def base_task_fields(app: dict) -> dict:
    """The instance task's script, hyperparams and configuration from the app's ``task`` section."""
    task = app.get("task") or {}
    out = {"hyperparams": {}, "configuration": {}}
    if task.get("script"):
        out["script"] = dict(task["script"])
    for section, params in (task.get("hyperparams") or {}).items():
        for name, value in params.items():
            out["hyperparams"].setdefault(section, {})[name] = {
                "section": section, "name": name, "value": format_value(value, "str")}
    for name, value in (task.get("configuration") or {}).items():
        fmt = "str" if isinstance(value, str) else "json"
        out["configuration"][name] = {"name": name, "value": format_value(value, fmt), "type": fmt}
    return out


def apply_targets(task: dict, entries: list, values: dict) -> dict:
    """Write each resolved value at its field's target (a group without one: each of its fields at theirs)."""
    for field in entries:
        name = field["name"]
        if name not in values:
            continue
        target = field.get("target")
        if target:
            _write(task, target, values[name])
        elif field["type"] == "group":
            apply_targets(task, field["item_template"], values[name])
    return task


def _write(task: dict, target: dict, value) -> None:
    text = format_value(value, target["format"])
    if target["field"] == "hyperparams":
        section, name = target["section"], target["name"]
        task.setdefault("hyperparams", {}).setdefault(section, {})[name] = {
            "section": section, "name": name, "value": text}
    else:
        task.setdefault("configuration", {})[target["name"]] = {
            "name": target["name"], "value": text, "type": target["format"]}
