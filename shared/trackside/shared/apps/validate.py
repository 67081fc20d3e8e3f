"""Validation of a whole app.conf: root keys and types, the ``task`` section, then wizard and dashboard."""
import re

from trackside.shared.apps.assets import check_asset_refs
from trackside.shared.apps.checker import Checker, join
from trackside.shared.apps.dashboard import validate_dashboard
from trackside.shared.apps.wizard_schema import validate_wizard

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# key: (types, required, default). The doc marks icon, no_info_html, badges, category, featured optional;
# we also let provider, description and details_page default (display-only), but not the queue.
ROOT_KEYS = {
    "id": (str, True, None),
    "name": (str, True, None),
    "version": ((str, int, float), True, None),
    "provider": (str, False, ""),
    "description": (str, False, ""),
    "icon": (str, False, None),
    "no_info_html": (str, False, None),
    "default_queue": (str, True, None),
    "badges": (list, False, []),
    "resumable": (bool, False, False),
    "category": (str, False, None),
    "featured": (int, False, 500),
    "details_page": (str, False, "task"),
    "task": (dict, True, None),
    "wizard": (dict, True, None),
    "dashboard": (dict, False, {"lines": []}),
}
TASK_KEYS = ("script", "hyperparams", "configuration", "container", "name", "type", "tags")
SCRIPT_KEYS = ("repository", "branch", "entry_point", "working_dir", "version_num", "tag", "binary")


def validate_app(conf: dict, file: str, assets=()) -> tuple:
    """(normalised app, [Problem]); every problem of the file is collected."""
    chk = Checker(file, assets)
    app = {}
    for key in conf:
        if key not in ROOT_KEYS:
            chk.error(key, "unknown key")
    for key, (kinds, required, default) in ROOT_KEYS.items():
        if key not in conf:
            if required:
                chk.error(key, "is required")
            app[key] = default
            continue
        value = conf[key]
        kinds_t = kinds if isinstance(kinds, tuple) else (kinds,)
        if not isinstance(value, kinds_t) or (isinstance(value, bool) and bool not in kinds_t):
            chk.is_type(value, kinds_t[0], key)
        app[key] = value
    if isinstance(app["version"], (int, float)) and not isinstance(app["version"], bool):
        app["version"] = str(app["version"])  # HOCON reads an unquoted 1.0 as a number
    if isinstance(app["id"], str) and not ID_PATTERN.match(app["id"]):
        chk.error("id", "only letters, digits, '.', '_' and '-' (it names files and URLs)")
    if isinstance(app["badges"], list):
        for i, badge in enumerate(app["badges"]):
            chk.is_type(badge, str, join("badges", i))
    for key in ("icon", "no_info_html"):
        check_asset_refs(chk, app[key], key)
    if isinstance(app["task"], dict):
        _validate_task(chk, app["task"])
    app["wizard"] = {"entries": validate_wizard(chk, conf["wizard"])} if "wizard" in conf else {"entries": []}
    if "dashboard" in conf:
        validate_dashboard(chk, conf["dashboard"])
    return app, chk.problems


def _validate_task(chk, task: dict) -> None:
    chk.keys(task, "task", TASK_KEYS)
    script = task.get("script")
    if script is not None and chk.is_type(script, dict, "task.script"):
        chk.keys(script, "task.script", SCRIPT_KEYS, required=("entry_point",))
        for key, value in script.items():
            if key in SCRIPT_KEYS:
                chk.is_type(value, str, join("task.script", key))
    hyperparams = task.get("hyperparams")
    if hyperparams is not None and chk.is_type(hyperparams, dict, "task.hyperparams"):
        for section, params in hyperparams.items():
            sp = join("task.hyperparams", section)
            if chk.is_type(params, dict, sp):
                for name, value in params.items():
                    if isinstance(value, (dict, list)):
                        chk.error(join(sp, name), "a hyperparameter default must be a single value")
    configuration = task.get("configuration")
    if configuration is not None:
        chk.is_type(configuration, dict, "task.configuration")
