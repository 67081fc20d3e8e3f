"""The example custom app (examples/apps/numpy-trainer, issue 17 item 6): it packs, validates, launches, and
its dashboard names only values that the wizard or the task code write."""
import ast
import json
import re
import struct
import sys
import zlib
from pathlib import Path

import pytest

from support.app_packages import build_zip
from trackside.shared.apps import (LaunchError, apply_targets, html_references, load_package, resolve_html,
                                   validate_launch)
from trackside.shared.apps.targets import base_task_fields

APP_DIR = Path(__file__).resolve().parents[2] / "examples" / "apps" / "numpy-trainer"
REPO_ROOT = APP_DIR.parents[2]
MAIN = APP_DIR / "task" / "main.py"


def _package_files() -> dict:
    """What the README's ``zip -r numpy-trainer.zip numpy-trainer.app.conf assets/`` puts in the archive."""
    files = {"numpy-trainer.app.conf": (APP_DIR / "numpy-trainer.app.conf").read_bytes()}
    for path in sorted((APP_DIR / "assets").iterdir()):
        files["assets/" + path.name] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def app():
    return load_package(build_zip(_package_files()), "numpy-trainer.zip").app


def _entries(app):
    return app["wizard"]["entries"]


def _html_texts(app) -> list:
    return [el["text"] for line in app["dashboard"]["lines"] for el in line["contents"] if el["type"] == "html"]


def _launch(app, params, allowed=None) -> dict:
    values = validate_launch(app, params, allowed)
    return apply_targets(base_task_fields(app), _entries(app), values)


def test_the_package_loads_with_its_assets(app):
    pkg = load_package(build_zip(_package_files()), "numpy-trainer.zip")
    assert (pkg.id, pkg.version) == ("numpy-trainer", "1.0.0")
    assert set(pkg.assets) == {"numpy-trainer.svg", "numpy-trainer-no-info.html"}
    assert app["resumable"] is True and app["default_queue"] == "custom_apps_queue"
    types = {e["type"] for e in _entries(app)}
    assert types == {"string", "integer", "float", "dropdown", "checkbox", "multiline_text", "group", "list"}
    kinds = {el["type"] for line in app["dashboard"]["lines"] for el in line["contents"]}
    assert {"html", "plot", "scalar", "debug-images", "log"} <= kinds


def test_the_task_script_points_at_this_folder(app):
    script = app["task"]["script"]
    assert (REPO_ROOT / script["working_dir"] / script["entry_point"]) == MAIN
    requirements = (MAIN.parent / "requirements.txt").read_text().split()
    assert requirements and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", r) for r in requirements)


def test_the_wizard_defaults_launch_and_reach_the_dashboard(app):
    task = _launch(app, {})
    hp = {s: {n: p["value"] for n, p in params.items()} for s, params in task["hyperparams"].items()}
    assert hp["General"] == {"run_name": "numpy run"}
    assert hp["Model"] == {"kind": "polynomial", "degree": "3"}
    assert hp["Training"] == {"learning_rate": "0.4", "iterations": "200", "sleep_seconds": "0.1",
                              "early_stop": "False"}
    assert hp["Data"] == {"samples": "200", "noise": "0.1", "seed": "1"}
    assert "lr_schedule" not in task["configuration"]  # not sent and no default: nothing written
    html = resolve_html(_html_texts(app)[0], task)
    assert "<h2>numpy run</h2>" in html and "<b>queued</b>: iteration 0 of 200" in html
    assert "Model: polynomial, learning rate 0.4" in html and "200 samples, noise 0.1" in html


def test_a_typical_launch_is_stored_where_the_task_and_dashboard_read_it(app):
    params = {
        "run_name": "sine <fast>", "compare_project": "Baselines", "kind": "linear", "degree": 7,
        "iterations": "50", "early_stop": "true", "data": {"samples": 80, "noise": "0.3"},
        "lr_schedule": [{"at_iteration": "20", "factor": 0.1}, {"at_iteration": 40}],
        "notes": "first line\nsecond line",
    }
    values = validate_launch(app, params, {"compare_project": ["Baselines", "Other"]})
    assert "degree" not in values  # hidden: its condition (kind == polynomial) is unmet
    assert values["learning_rate"] == 0.8  # default_conditional_on the linear model
    assert values["lr_schedule"] == [{"at_iteration": 20, "factor": 0.1}, {"at_iteration": 40, "factor": 0.5}]
    task = apply_targets(base_task_fields(app), _entries(app), values)
    hp = task["hyperparams"]
    assert hp["Model"]["kind"]["value"] == "linear" and hp["Model"]["degree"]["value"] == "3"  # app.conf default
    assert hp["Training"]["early_stop"]["value"] == "True" and hp["Data"]["seed"]["value"] == "1"
    assert hp["General"]["notes"]["value"] == "first line\nsecond line"
    schedule = task["configuration"]["lr_schedule"]
    assert schedule["type"] == "json" and json.loads(schedule["value"]) == values["lr_schedule"]
    html = resolve_html(_html_texts(app)[0], task)
    assert "<h2>sine &lt;fast&gt;</h2>" in html and "iteration 0 of 50" in html
    assert "Model: linear, learning rate 0.8" in html and "80 samples, noise 0.3" in html
    assert "Baseline: not computed yet" in html  # until the task writes Status/baseline


def test_bad_launch_values_are_named(app):
    with pytest.raises(LaunchError) as exc:
        validate_launch(app, {"kind": "cubic", "iterations": "many", "lr_schedule": [{"factor": 2}]},
                        {"compare_project": []})
    assert set(exc.value.problems) == {"kind", "iterations", "lr_schedule[0].at_iteration"}


def _wizard_targets(entries) -> set:
    out = set()
    for field in entries:
        target = field.get("target")
        if target and target["field"] == "hyperparams":
            out.add(f"{target['section']}.{target['name']}")
        elif field["type"] == "group" and isinstance(field["item_template"], list):
            out |= _wizard_targets(field["item_template"])
    return out


def _status_names_written_by_main() -> set:
    """Keyword names of every ``set_status(...)`` call in main.py (each writes ``Status/<name>``)."""
    tree = ast.parse(MAIN.read_text())
    return {kw.arg for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "set_status" for kw in node.keywords}


def test_every_dashboard_reference_is_written_by_the_wizard_or_the_task(app):
    targets = _wizard_targets(_entries(app))
    written = {f"Status.{name}" for name in _status_names_written_by_main()}
    refs = [rest for text in _html_texts(app) for kind, rest in html_references(text)]
    assert refs and all(kind == "hyperparams" for text in _html_texts(app) for kind, _ in html_references(text))
    missing = [ref for ref in refs if ref not in targets | written]
    assert not missing, f"the dashboard names values nobody writes: {missing}"
    assert {"Status.state", "Status.iteration", "Status.loss", "Status.baseline"} <= written


def test_every_charted_series_is_reported_by_the_task(app):
    code = MAIN.read_text()
    for line in app["dashboard"]["lines"]:
        for el in line["contents"]:
            for variant in el.get("variant", []) if el["type"] in ("plot", "scalar", "debug-images") else []:
                assert f'("{el["metric"]}", "{variant}"' in code, (el["metric"], variant)


@pytest.mark.parametrize("path", ["task/main.py", "task/trainer.py"])
def test_the_task_code_compiles(path):
    source = (APP_DIR / path).read_text()
    compile(source, str(APP_DIR / path), "exec")


@pytest.fixture(scope="module")
def trainer():
    sys.path.insert(0, str(APP_DIR / "task"))
    try:
        import trainer as module
    finally:
        sys.path.remove(str(APP_DIR / "task"))
    return module


def test_the_trainer_learns_and_follows_its_schedule(trainer):
    x, y, xv, yv = trainer.make_data(100, 0.1, 1)
    w = trainer.initial_weights("polynomial", 3)
    before = trainer.mse(w, xv, yv, "polynomial", 3)
    for _ in range(50):
        w = trainer.sgd_step(w, x, y, "polynomial", 3, 0.4)
    assert trainer.mse(w, xv, yv, "polynomial", 3) < before / 3
    schedule = [{"at_iteration": 40, "factor": 0.1}, {"at_iteration": 20, "factor": 0.5}]
    assert [trainer.learning_rate(i, 1.0, schedule) for i in (1, 20, 39, 40)] == [1.0, 0.5, 0.5, 0.1]


def test_the_residual_image_is_a_valid_png(trainer):
    data = trainer.png_bytes(trainer.residual_image([0.5, -0.2, 0.1]))
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat_len = struct.unpack(">I", data[33:37])[0]
    assert data[37:41] == b"IDAT"
    raw = zlib.decompress(data[41:41 + idat_len])
    assert (width, height) == (160, 64) and len(raw) == height * (1 + 3 * width)
    assert struct.unpack(">I", data[41 + idat_len:45 + idat_len])[0] == zlib.crc32(data[37:41 + idat_len])


def test_the_readme_commands_match_the_package(app):
    readme = (APP_DIR / "README.md").read_text()
    assert "zip -r numpy-trainer.zip numpy-trainer.app.conf assets/" in readme
    assert f"sed -i 's#{app['task']['script']['repository']}#" in readme  # the placeholder it tells to replace
    assert "trackside-apps upload --host" in readme and "upload_apps.py --host" in readme
