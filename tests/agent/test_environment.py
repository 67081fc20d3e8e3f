"""build_environment with real virtualenv and pip (offline, from the wheelhouse `make setup` fills): the venv
cache (hit, relocation, isolation, eviction, concurrency), requirements sources and install order."""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import pytest

from support.our_agent import WHEELHOUSE
from trackside.agent.config import load_config
from trackside.agent.execute.code import CodeLocation
from trackside.agent.execute.environment import EnvironmentBuildError, build_environment
from trackside.agent.execute.environment.venv_cache import VenvCache

CLEARML = "# the SDK, as a task records it\nclearml==2.1.12\n"
pytestmark = pytest.mark.slow  # real venv builds; the clearml one takes seconds


def agent_config(root, **agent):
    settings = {"venvs_dir": str(root / "venvs"), "venvs_cache": {"path": str(root / "venvs-cache")},
                "pip_download_cache": {"enabled": False}}
    for key, value in agent.items():
        settings[key] = {**settings[key], **value} if isinstance(settings.get(key), dict) else value
    conf = root / "clearml.conf"
    conf.write_text("agent " + json.dumps(settings))
    return load_config(conf, environ={}, require_credentials=False)


def literal_code(root) -> CodeLocation:
    (root / "code").mkdir(parents=True, exist_ok=True)
    return CodeLocation(root=root / "code", cwd=root / "code", entry_point="run.py", is_repository=False)


def task_with(pip=None, binary=None) -> dict:
    script = {"entry_point": "run.py"}
    if pip is not None:
        script["requirements"] = {"pip": pip}
    if binary is not None:
        script["binary"] = binary
    return {"id": "t", "script": script}


def run_in(environment, code: str) -> str:
    result = subprocess.run([str(environment.python), "-c", code], capture_output=True, text=True,
                            env={**os.environ, **environment.env})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module", autouse=True)
def offline_pip():
    """pip never reaches an index: everything comes from the wheelhouse."""
    assert WHEELHOUSE.is_dir(), "run `make setup` first: it fills .trackside/wheelhouse"
    saved = {k: os.environ.get(k) for k in ("PIP_NO_INDEX", "PIP_FIND_LINKS", "PIP_CONFIG_FILE")}
    os.environ.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELHOUSE), "PIP_CONFIG_FILE": os.devnull})
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def clearml_venv(tmp_path_factory):
    """One venv with the clearml SDK, built once and cached: (root, config, environment, build seconds)."""
    root = tmp_path_factory.mktemp("env")
    config = agent_config(root)
    lines: list[str] = []
    started = time.monotonic()
    environment = build_environment(task_with(CLEARML), literal_code(root), config, lines.append, slot="1")
    return root, config, environment, time.monotonic() - started, lines


def test_a_first_build_installs_the_requirements_and_reports_the_freeze(clearml_venv):
    root, _, environment, seconds, lines = clearml_venv
    assert not environment.cache_hit and environment.manager == "pip"
    assert environment.root == root / "venvs" / "1"
    assert run_in(environment, "import clearml, sys; print(clearml.__version__, sys.prefix)") == \
        f"2.1.12 {root / 'venvs' / '1'}"
    assert environment.requirements["org_pip"] == CLEARML
    assert "clearml==2.1.12" in environment.requirements["pip"]
    assert all(isinstance(line, str) for line in environment.requirements["pip"])
    assert any("Successfully installed" in line and "clearml-2.1.12" in line for line in lines), "pip output logged"
    assert environment.env["VIRTUAL_ENV"] == str(environment.root)
    assert environment.env["PATH"].startswith(str(environment.root / "bin") + os.pathsep)


def test_the_same_requirements_start_from_the_cache_in_a_fraction_of_the_time(clearml_venv):
    root, config, built, build_seconds, _ = clearml_venv
    lines: list[str] = []
    started = time.monotonic()
    # Same requirements written differently: order, spacing, comments and name case do not matter.
    environment = build_environment(task_with("CLEARML == 2.1.12   # pinned\n"), literal_code(root), config,
                                    lines.append, slot="2")
    restore_seconds = time.monotonic() - started
    print(f"\nvenv with clearml 2.1.12: first build {build_seconds:.2f} s, cache restore {restore_seconds:.2f} s "
          f"({build_seconds / restore_seconds:.0f}x)")
    assert environment.cache_hit
    assert restore_seconds < build_seconds / 4
    assert environment.requirements["pip"] == built.requirements["pip"]
    assert environment.requirements["org_pip"] == "CLEARML == 2.1.12   # pinned\n"
    venv = root / "venvs" / "2"
    assert run_in(environment, "import clearml, sys; print(clearml.__version__, sys.prefix)") == f"2.1.12 {venv}"
    # Moved from where it was built: scripts and pyvenv.cfg name the new place.
    assert (venv / "bin" / "pip").read_text().splitlines()[0] == f"#!{venv}/bin/python"
    assert str(root / "venvs" / "1") not in (venv / "pyvenv.cfg").read_text()
    pip = subprocess.run([str(venv / "bin" / "pip"), "--version"], capture_output=True, text=True)
    assert pip.returncode == 0 and str(venv) in pip.stdout


def test_installs_and_uninstalls_in_a_restored_venv_leave_the_cache_intact(clearml_venv):
    root, config, _, _, _ = clearml_venv
    environment = build_environment(task_with(CLEARML), literal_code(root), config, lambda line: None, slot="3")
    subprocess.run([str(environment.python), "-m", "pip", "uninstall", "--yes", "--quiet", "six"], check=True,
                   env={**os.environ, **environment.env})
    again = build_environment(task_with(CLEARML), literal_code(root), config, lambda line: None, slot="4")
    assert again.cache_hit
    assert run_in(again, "import six; print(six.__name__)") == "six"


def test_an_entry_edited_in_place_is_rebuilt_not_handed_out(tmp_path):
    config = agent_config(tmp_path)
    code = literal_code(tmp_path)
    first = build_environment(task_with("six\n"), code, config, lambda line: None, slot="a")
    six = first.root / "lib" / "python3.11" / "site-packages" / "six.py"
    with open(six, "r+") as shared:        # an editor writing in place: the inode shared with the cache
        shared.write("raise ImportError('edited in place')\n")
    lines: list[str] = []
    second = build_environment(task_with("six\n"), code, config, lines.append, slot="b")
    assert not second.cache_hit
    assert any("changed since it was stored" in line for line in lines)
    assert run_in(second, "import six; print(six.__name__)") == "six"
    assert build_environment(task_with("six\n"), code, config, lambda line: None, slot="c").cache_hit


def test_system_site_packages_changes_the_venv_and_the_key(clearml_venv, tmp_path):
    config = agent_config(tmp_path, package_manager={"system_site_packages": True})
    environment = build_environment(task_with(""), literal_code(tmp_path), config, lambda line: None, slot="s")
    assert not environment.cache_hit
    assert "include-system-site-packages = true" in (environment.root / "pyvenv.cfg").read_text()
    assert run_in(environment, "import sys; print(sys.flags.no_site, any(p.startswith(sys.base_prefix) and "
                               "p.endswith('site-packages') for p in sys.path))") == "0 True"


def test_requirements_txt_is_used_when_the_task_has_none(tmp_path):
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "requirements.txt").write_text("six\n")
    code = CodeLocation(root=repo, cwd=repo / "sub", entry_point="x.py", is_repository=True)
    config = agent_config(tmp_path, venvs_cache={"path": ""})
    lines: list[str] = []
    environment = build_environment(task_with(""), code, config, lines.append, slot="r")
    assert any(line.startswith("six==") for line in environment.requirements["pip"])
    assert environment.requirements["org_pip"] == "six\n"
    assert any(str(repo / "requirements.txt") in line for line in lines)
    assert not (tmp_path / "venvs-cache").exists(), "an empty venvs_cache.path disables the cache"


def test_priority_packages_first_post_packages_last_optional_ones_tolerated(tmp_path):
    config = agent_config(tmp_path, venvs_cache={"max_entries": 0},
                          package_manager={"priority_packages": ["idna"], "post_packages": ["attrs"],
                                           "post_optional_packages": ["no-such-package"]})
    lines: list[str] = []
    environment = build_environment(task_with("six\nattrs\nidna\nno-such-package==1.0\n"), literal_code(tmp_path),
                                    config, lines.append, slot="p")
    steps = [line for line in lines if line.startswith("pip: installing")]
    assert steps == ["pip: installing priority packages (1 line)", "pip: installing requirements (2 lines)",
                     "pip: installing post packages (1 line)"]
    assert any("optional package 'no-such-package==1.0' not installed" in line for line in lines)
    installed = {line.split("==")[0].lower() for line in environment.requirements["pip"]}
    assert {"six", "attrs", "idna"} <= installed
    assert not (tmp_path / "venvs-cache").exists(), "max_entries 0 disables the cache"


def test_a_requirement_that_cannot_be_installed_fails_the_build(tmp_path):
    with pytest.raises(EnvironmentBuildError) as error:
        build_environment(task_with("no-such-package==1.0\n"), literal_code(tmp_path), agent_config(tmp_path),
                          lambda line: None, slot="f")
    assert error.value.status_reason == "failed installing requirements"
    assert not [p for p in (tmp_path / "venvs-cache").glob("*") if not p.name.startswith(".")]


def test_pip_version_moves_pip_only_when_needed(tmp_path):
    config = agent_config(tmp_path, venvs_cache={"path": ""}, package_manager={"pip_version": ["<26"]})
    lines: list[str] = []
    environment = build_environment(task_with(""), literal_code(tmp_path), config, lines.append, slot="v")
    assert run_in(environment, "import pip; print(pip.__version__)") == "25.3"
    config = agent_config(tmp_path, venvs_cache={"path": ""},
                          package_manager={"pip_version": [">=20 ; python_version >= '3.8'", "<99"]})
    lines.clear()
    build_environment(task_with(""), literal_code(tmp_path), config, lines.append, slot="v")
    assert not any("pip_version" in line for line in lines)


def test_least_recently_used_entries_go_beyond_max_entries(tmp_path):
    config = agent_config(tmp_path, venvs_cache={"max_entries": 2})
    code = literal_code(tmp_path)
    # Pinned requirements: a venv is then filed under one key only (not also under its frozen list).

    def build(pip):
        return build_environment(task_with(pip), code, config, lambda line: None, slot="e")

    cache = VenvCache(tmp_path / "venvs-cache", 2, 0, print)
    build("")
    first = cache.entries()[0].name
    build("six==1.17.0\n")
    assert build("").cache_hit                 # the first entry is now the most recently used
    build("idna==3.20\n")                            # a third entry evicts the least recently used: "six"
    assert len(cache.entries()) == 2 and first in {e.name for e in cache.entries()}
    assert not build("six==1.17.0\n").cache_hit


def test_concurrent_builders_of_one_key_build_it_once(tmp_path):
    config = agent_config(tmp_path)
    code = literal_code(tmp_path)
    results: dict = {}

    def build(slot):
        results[slot] = build_environment(task_with("six\n"), code, config, lambda line: None, slot=slot)

    threads = [threading.Thread(target=build, args=(slot,)) for slot in ("c1", "c2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(env.cache_hit for env in results.values()) == [False, True]


def test_no_entry_is_kept_without_free_space(tmp_path):
    config = agent_config(tmp_path, venvs_cache={"free_space_threshold_gb": 1e9})
    lines: list[str] = []
    build_environment(task_with(""), literal_code(tmp_path), config, lines.append, slot="x")
    assert VenvCache(tmp_path / "venvs-cache", 10, 0, print).entries() == []
    assert any("venv not cached" in line for line in lines)

