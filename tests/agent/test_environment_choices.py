"""build_environment's choices: the interpreter, shells, standalone mode, poetry (a real `poetry install`),
conda; and the pure parts (requirement normalisation, cache keys, install plans)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from support.our_agent import WHEELHOUSE
from trackside.agent.config import load_config
from trackside.agent.execute.code import CodeLocation
from trackside.agent.execute.environment import EnvironmentBuildError, build_environment
from trackside.agent.execute.environment import builders
from trackside.agent.execute.environment.interpreter import probe
from trackside.agent.execute.environment.requirements import Requirements, find_requirements_txt, \
    meaningful_lines, plan_install
from trackside.agent.execute.environment.venv_cache import VenvCache


def agent_config(root, **agent):
    settings = {"venvs_dir": str(root / "venvs"), "venvs_cache": {"path": str(root / "venvs-cache")},
                "pip_download_cache": {"enabled": False}}
    for key, value in agent.items():
        settings[key] = {**settings[key], **value} if isinstance(settings.get(key), dict) else value
    conf = root / "clearml.conf"
    conf.write_text("agent " + json.dumps(settings))
    return load_config(conf, environ={}, require_credentials=False)


def code_at(root, repository=False) -> CodeLocation:
    root.mkdir(parents=True, exist_ok=True)
    return CodeLocation(root=root, cwd=root, entry_point="run.py", is_repository=repository)


def task_with(pip="", binary=None) -> dict:
    return {"script": {"entry_point": "run.py", "requirements": {"pip": pip}, **({"binary": binary} if binary else {})}}


@pytest.fixture(autouse=True)
def offline_pip(monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(WHEELHOUSE))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


AGENT_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.mark.parametrize("binary", [f"python{AGENT_VERSION}", "python3", sys.executable])
def test_the_requested_interpreter_builds_the_venv(tmp_path, binary):
    environment = build_environment(task_with(binary=binary), code_at(tmp_path / "code"), agent_config(tmp_path),
                                    lambda line: None, slot="i")
    result = subprocess.run([str(environment.python), "-c", "import sys; print(sys.version_info[:2], sys.prefix)"],
                            capture_output=True, text=True)
    assert result.stdout.strip() == f"({sys.version_info[0]}, {sys.version_info[1]}) {tmp_path / 'venvs' / 'i'}"


def test_a_missing_minor_version_falls_back_to_the_default_with_a_warning(tmp_path):
    lines: list[str] = []  # a task created on a laptop with another Python 3 (the SDK records python3.X)
    environment = build_environment(task_with(binary="python3.99"), code_at(tmp_path / "code"),
                                    agent_config(tmp_path, venvs_cache={"path": ""}), lines.append, slot="i")
    assert probe(environment.python).version[:2] == sys.version_info[:2]
    assert any(line.startswith("WARNING: python3.99 requested by the task is not available here") for line in lines)


@pytest.mark.parametrize("binary", ["python4.1", "/nonexistent/bin/python4"])
def test_an_unavailable_major_version_is_named_in_the_error(tmp_path, binary):
    with pytest.raises(EnvironmentBuildError) as error:
        build_environment(task_with(binary=binary), code_at(tmp_path / "code"), agent_config(tmp_path),
                          lambda line: None, slot="i")
    assert error.value.status_reason == "python binary not found"
    assert binary in str(error.value) and "ignore_requested_python_version" in str(error.value)


def test_a_broken_python_binary_setting_is_named(tmp_path):
    with pytest.raises(EnvironmentBuildError) as error:
        build_environment(task_with(), code_at(tmp_path / "code"),
                          agent_config(tmp_path, python_binary="/nonexistent/python3"), lambda line: None, slot="i")
    assert error.value.status_reason == "python binary not found"
    assert "agent.python_binary" in str(error.value) and "/nonexistent/python3" in str(error.value)


def test_ignore_requested_python_version_uses_the_agent_interpreter(tmp_path):
    config = agent_config(tmp_path, ignore_requested_python_version=True, venvs_cache={"path": ""})
    environment = build_environment(task_with(binary="python4.1"), code_at(tmp_path / "code"), config,
                                    lambda line: None, slot="i")
    assert environment.python == tmp_path / "venvs" / "i" / "bin" / "python"


def test_a_bash_binary_runs_the_entry_point_with_bash_inside_the_venv(tmp_path):
    environment = build_environment(task_with(binary="bash"), code_at(tmp_path / "code"),
                                    agent_config(tmp_path, venvs_cache={"path": ""}), lambda line: None, slot="b")
    assert environment.shell is not None and environment.shell.name == "bash"
    assert environment.root == tmp_path / "venvs" / "b" and environment.manager == "pip"


@pytest.mark.parametrize("how", ["standalone", "environment"])
def test_standalone_mode_uses_the_interpreter_as_is(tmp_path, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL", "1")
    environment = build_environment(task_with("six\n"), code_at(tmp_path / "code"), agent_config(tmp_path),
                                    lambda line: None, slot="x", standalone=how == "standalone")
    assert environment.root is None and environment.manager == "system"
    assert probe(environment.python).version[:2] == sys.version_info[:2]
    assert not (tmp_path / "venvs").exists()


def test_conda_without_conda_installed_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(EnvironmentBuildError) as error:
        build_environment(task_with("six\n"), code_at(tmp_path / "code"),
                          agent_config(tmp_path, package_manager={"type": "conda"}), lambda line: None, slot="c")
    assert error.value.status_reason == "conda not found"
    assert str(error.value).startswith("package_manager.type is conda but conda is not installed")


def tiny_poetry_project(root):
    (root / "tiny_pkg").mkdir(parents=True)
    (root / "tiny_pkg" / "__init__.py").write_text("ANSWER = 42\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "tiny-pkg"\nversion = "0.1.0"\nrequires-python = ">=3.9"\ndependencies = []\n\n'
        '[build-system]\nrequires = ["poetry-core>=2.0"]\nbuild-backend = "poetry.core.masonry.api"\n')
    return code_at(root, repository=True)


@pytest.mark.parametrize("how", ["config", "environment", "lock file"])
def test_poetry_installs_the_repository_project(tmp_path, monkeypatch, how):
    code = tiny_poetry_project(tmp_path / "repo")
    monkeypatch.setenv("POETRY_CACHE_DIR", str(tmp_path / "poetry-cache"))
    if how == "lock file":  # type pip, but the repository pins its environment with poetry
        locked = subprocess.run([str(builders.poetry_tools.find_poetry()), "lock"], cwd=code.root,
                                capture_output=True, text=True)
        assert locked.returncode == 0 and (code.root / "poetry.lock").is_file(), locked.stderr
        config = agent_config(tmp_path)
    elif how == "environment":
        monkeypatch.setenv("CLEARML_AGENT_FORCE_POETRY", "1")
        config = agent_config(tmp_path)
    else:
        config = agent_config(tmp_path, package_manager={"type": "poetry"})
    lines: list[str] = []
    environment = build_environment(task_with("six\n"), code, config, lines.append, slot="p")
    assert environment.manager == "poetry" and not environment.cache_hit
    result = subprocess.run([str(environment.python), "-c", "import tiny_pkg; print(tiny_pkg.ANSWER)"],
                            capture_output=True, text=True)
    assert result.stdout.strip() == "42", result.stderr
    assert any("Installing the current project: tiny-pkg" in line for line in lines), "poetry output logged"
    assert environment.requirements["org_pip"] == "six\n"


def test_poetry_without_a_project_falls_back_to_pip(tmp_path):
    config = agent_config(tmp_path, package_manager={"type": "poetry"}, venvs_cache={"path": ""})
    environment = build_environment(task_with("six\n"), code_at(tmp_path / "repo", repository=True), config,
                                    lambda line: None, slot="p")
    assert environment.manager == "pip"
    assert any(line.startswith("six==") for line in environment.requirements["pip"])


def test_poetry_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(builders.poetry_tools, "find_poetry", lambda: None)
    with pytest.raises(EnvironmentBuildError) as error:
        build_environment(task_with(), tiny_poetry_project(tmp_path / "repo"),
                          agent_config(tmp_path, package_manager={"type": "poetry"}), lambda line: None, slot="p")
    assert error.value.status_reason == "poetry not found"


# The pure parts.
def test_requirement_lines_normalise_for_the_cache_key():
    a = Requirements("", "task", meaningful_lines("# header\nClearML == 2.1.12\nsix>=1.0 # why\n\n"))
    b = Requirements("", "task", meaningful_lines("six >= 1.0\nclearml==2.1.12\n"))
    c = Requirements("", "task", meaningful_lines("six>=1.0\nclearml==2.1.11\n"))
    assert a.normalised() == b.normalised() == ["clearml==2.1.12", "six>=1.0"]
    assert VenvCache.key({"requirements": a.normalised()}) == VenvCache.key({"requirements": b.normalised()})
    assert VenvCache.key({"requirements": a.normalised()}) != VenvCache.key({"requirements": c.normalised()})


def test_the_cache_key_covers_what_decides_the_venv(tmp_path, monkeypatch):
    interpreter = probe(sys.executable)
    requirements = Requirements("", "task", ["six"])

    def key(env=None, **agent):
        config = agent_config(tmp_path, **agent)
        return VenvCache.key(builders.cache_material(requirements, interpreter,
                                                     bool(config.get("agent.package_manager.system_site_packages")),
                                                     config, env or {}))

    base = key()
    assert key(package_manager={"system_site_packages": True}) != base
    assert key(package_manager={"extra_index_url": ["https://pypi.internal/simple"]}) != base
    assert key(package_manager={"pip_version": ["<25"]}) != base
    assert key(env={"PIP_INDEX_URL": "https://mirror/simple"}) != base
    # credentials in index URLs do not split the cache, nor reach meta.json
    with_token = builders.cache_material(requirements, interpreter, False, agent_config(tmp_path),
                                         {"PIP_INDEX_URL": "https://u:secret-token@mirror/simple"})
    assert "secret-token" not in json.dumps(with_token)
    assert VenvCache.key(with_token) == key(env={"PIP_INDEX_URL": "https://mirror/simple"})


@pytest.mark.parametrize("line, local", [
    ("-e .", True), ("-e ./sub", True), ("./pkg", True), ("../pkg", True), ("/abs/pkg", True),
    ("-r other.txt", True), ("pkg @ file:///tmp/pkg", True), ("pkg @ ./pkg", True),
    ("six==1.17.0", False), ("pkg @ https://example.com/pkg.whl", False), ("--extra-index-url https://x", False),
])
def test_requirements_on_local_files_are_recognised(line, local):
    assert Requirements("", "task", [line]).refers_to_local_files is local


def test_install_plan_takes_listed_names_from_the_requirements(tmp_path):
    config = agent_config(tmp_path, package_manager={
        "priority_packages": ["Cython"], "priority_optional_packages": ["pygobject"],
        "post_packages": ["horovod"], "post_optional_packages": ["flash_attn"]})
    lines = ["numpy", "cython==3.0", "PyGObject", "horovod>=0.28", "flash-attn", "torch"]
    plan = plan_install(Requirements("", "task", lines), config)
    assert plan.first == ["cython==3.0"]
    assert plan.first_optional == ["PyGObject"]
    assert plan.main == ["numpy", "cython==3.0", "torch"]
    assert plan.last == ["horovod>=0.28"]
    assert plan.last_optional == ["flash-attn"]


def test_the_nearest_requirements_txt_up_to_the_repository_root(tmp_path):
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    (tmp_path / "requirements.txt").write_text("outside\n")
    assert find_requirements_txt(tmp_path / "repo" / "a" / "b", tmp_path / "repo") is None
    (tmp_path / "repo" / "requirements.txt").write_text("root\n")
    assert find_requirements_txt(tmp_path / "repo" / "a" / "b", tmp_path / "repo") == \
        tmp_path / "repo" / "requirements.txt"
    (tmp_path / "repo" / "a" / "requirements.txt").write_text("nearer\n")
    assert find_requirements_txt(tmp_path / "repo" / "a" / "b", tmp_path / "repo") == \
        tmp_path / "repo" / "a" / "requirements.txt"


def test_force_repo_requirements_txt_prefers_the_file(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "requirements.txt").write_text("idna\n")
    config = agent_config(tmp_path, package_manager={"force_repo_requirements_txt": True}, venvs_cache={"path": ""})
    environment = build_environment(task_with("six\n"), code_at(repo, repository=True), config, lambda line: None,
                                    slot="f")
    names = {line.split("==")[0] for line in environment.requirements["pip"]}
    assert "idna" in names and "six" not in names


def test_an_unusable_venv_cache_never_fails_the_task(tmp_path):
    (tmp_path / "a-file").write_text("")
    config = agent_config(tmp_path, venvs_cache={"path": str(tmp_path / "a-file" / "cache")})
    lines: list[str] = []
    environment = build_environment(task_with(""), code_at(tmp_path / "code"), config, lines.append, slot="u")
    assert environment.root == tmp_path / "venvs" / "u" and not environment.cache_hit
    assert any(line.startswith("venv cache: not used") for line in lines)
