"""Instance dashboards: validating ``dashboard.lines`` and resolving html text against the instance's task."""
import html
import re

from trackside.shared.apps.assets import check_asset_refs, resolve_assets
from trackside.shared.apps.checker import join

_COMMON = ("title", "type", "style")
_SERIES = _COMMON + ("metric", "variant", "hide_legend")
ELEMENT_KEYS = {
    "html": _COMMON + ("text",),
    "plot": _SERIES,
    "scalar": _SERIES,
    "scalar-histogram": _SERIES + ("key",),
    "debug-images": _COMMON + ("metric", "variant"),
    "log": _COMMON,
    # The doc names no fields for these two; a section / name narrows what is shown (our choice).
    "hyperparameter": _COMMON + ("section", "name"),
    "configuration": _COMMON + ("name",),
}
HISTOGRAM_KEYS = ("iter", "timestamp", "iso_time")
TASK_REF = re.compile(r"\$\{(hyperparams|configuration)\.([^}]+?)\.value\}")


def validate_dashboard(chk, dashboard, path: str = "dashboard") -> None:
    if not chk.is_type(dashboard, dict, path):
        return
    chk.keys(dashboard, path, ("lines",), required=("lines",))
    lines = dashboard.get("lines", [])
    if not chk.is_type(lines, list, join(path, "lines")):
        return
    for i, line in enumerate(lines):
        lp = join(join(path, "lines"), i)
        if not chk.is_type(line, dict, lp):
            continue
        chk.keys(line, lp, ("style", "contents"), required=("contents",))
        if "style" in line and not isinstance(line["style"], (dict, str)):
            chk.error(join(lp, "style"), "must be an object of CSS properties or a CSS string")
        contents = line.get("contents", [])
        if chk.is_type(contents, list, join(lp, "contents")):
            for j, element in enumerate(contents):
                _element(chk, element, join(join(lp, "contents"), j))


def _element(chk, element, p: str) -> None:
    if not chk.is_type(element, dict, p):
        return
    etype = element.get("type")
    if etype not in ELEMENT_KEYS:
        chk.error(join(p, "type"), f"unknown dashboard element type {etype!r} (one of {', '.join(ELEMENT_KEYS)})")
        return
    required = ("text",) if etype == "html" else ("metric",) if "metric" in ELEMENT_KEYS[etype] else ()
    chk.keys(element, p, ELEMENT_KEYS[etype], required=("type",) + required)
    for key, kind in (("title", str), ("text", str), ("metric", str), ("hide_legend", bool)):
        if key in element:
            chk.is_type(element[key], kind, join(p, key))
    if "variant" in element and chk.is_type(element["variant"], list, join(p, "variant")):
        for k, v in enumerate(element["variant"]):
            chk.is_type(v, str, join(join(p, "variant"), k))
    if "key" in element and element["key"] not in HISTOGRAM_KEYS:
        chk.error(join(p, "key"), "must be iter, timestamp or iso_time")
    if etype == "html":
        check_asset_refs(chk, element.get("text"), join(p, "text"))


def html_references(text: str) -> list:
    """[(kind, rest)] of the task values an html text names: ("hyperparams", "General.count"), ..."""
    return TASK_REF.findall(text)


def _lookup(task: dict, kind: str, rest: str):
    if kind == "hyperparams":
        section, _, name = rest.partition(".")
        item = ((task.get("hyperparams") or {}).get(section) or {}).get(name)
    else:
        item = (task.get("configuration") or {}).get(rest)
    return item.get("value") if isinstance(item, dict) else None


def resolve_html(text: str, task: dict, asset_url=None) -> str:
    """The html with ``${hyperparams.<section>.<name>.value}`` (and ``${configuration.<name>.value}``) replaced
    by the task's values, HTML-escaped (they are user input); a missing value becomes empty text, since the
    app may not have written it yet. ``asset_url(file)`` resolves ``${ASSET:file}`` when given."""
    def value(match):
        found = _lookup(task, match.group(1), match.group(2))
        return "" if found is None else html.escape(str(found))
    out = TASK_REF.sub(value, text)
    if asset_url is not None:
        out = resolve_assets(out, asset_url)
    return out
