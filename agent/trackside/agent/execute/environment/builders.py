"""The three ways to build a task's environment: a pip venv (through the venv cache), poetry, conda."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable

from trackside.agent.config import AgentConfig
from trackside.agent.execute.code import CodeLocation
from trackside.agent.execute.environment import conda as conda_tools
from trackside.agent.execute.environment import poetry as poetry_tools
from trackside.agent.execute.environment.commands import CommandFailed, build_env, run_logged
from trackside.agent.execute.environment.interpreter import Interpreter
from trackside.agent.execute.environment.model import EnvironmentBuildError, PythonEnvironment
from trackside.agent.execute.environment.pip import Pip, PipFailed
from trackside.agent.execute.environment.requirements import Requirements, plan_install, task_requirements
from trackside.agent.execute.environment.tree import remove_tree
from trackside.agent.execute.environment.venv import VenvFailed, activation_env, create_venv
from trackside.agent.execute.environment.venv_cache import VenvCache
from trackside.agent.redact import strip_url_credentials

LogLine = Callable[[str], None]
INDEX_VARIABLES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX")


def build_pip(task: dict, code: CodeLocation, config: AgentConfig, log: LogLine, interpreter: Interpreter,
              venv: Path) -> PythonEnvironment:
    started = time.monotonic()
    requirements = task_requirements(task, code.cwd, code.root, config)
    log(f"requirements from {requirements.source}: {len(requirements.lines)} line(s)")
    system_site = bool(config.get("agent.package_manager.system_site_packages"))
    env = pip_env(config)
    cache = VenvCache.from_config(config, log)
    if cache and requirements.refers_to_local_files:
        log("venv cache: not used (the requirements refer to local files)")
        cache = None
    cache = _usable(cache, log)
    material = cache_material(requirements, interpreter, system_site, config, env)
    key = VenvCache.key(material) if cache else ""
    with cache.building(key) if cache else contextlib.nullcontext():
        hit = _restore(cache, key, venv, log) if cache else None
        if hit:
            log(f"venv cache: hit {key[:12]}, venv restored in {hit.seconds:.2f} s")
            return PythonEnvironment(python=venv / "bin" / "python", root=venv, env=activation_env(venv),
                                     manager="pip", cache_hit=True, build_seconds=time.monotonic() - started,
                                     requirements={"org_pip": requirements.original, "pip": hit.frozen})
        python = _create(interpreter, venv, system_site)
        pip = Pip(python, config, log, env)
        try:
            pip.ensure_version(list(config.get("agent.package_manager.pip_version") or []))
            pip.install_plan(plan_install(requirements, config))
        except PipFailed as exc:
            raise EnvironmentBuildError(f"pip install failed: {exc}", "failed installing requirements") from None
        frozen = pip.freeze()
        if cache:
            _store(cache, key, venv, frozen, material, log)
            # After this run the task's requirements are the frozen list (tasks.set_requirements), and so are
            # its clones': file the same venv under that key too (hardlinks), so the next run hits.
            pinned = {**material, "requirements": Requirements("\n".join(frozen), "frozen", frozen).normalised()}
            if pinned != material:
                _store(cache, VenvCache.key(pinned), venv, frozen, pinned, log)
    seconds = time.monotonic() - started
    log(f"venv built in {seconds:.1f} s")
    return PythonEnvironment(python=python, root=venv, env=activation_env(venv), manager="pip",
                             requirements={"org_pip": requirements.original, "pip": frozen}, build_seconds=seconds)


def build_poetry(task: dict, code: CodeLocation, project: Path, config: AgentConfig, log: LogLine,
                 interpreter: Interpreter, venv: Path) -> PythonEnvironment:
    """Poetry installs the repository's lock file, not the task's recorded requirements (as clearml-agent)."""
    started = time.monotonic()
    poetry = poetry_tools.find_poetry()
    if poetry is None:
        raise EnvironmentBuildError("package_manager.type is poetry but poetry is not installed (pip install "
                                    "poetry in the agent's environment, or put it on PATH)", "poetry not found")
    python = _create(interpreter, venv, bool(config.get("agent.package_manager.system_site_packages")))
    log(f"poetry: installing the project in {project} (its lock file, not the task's requirements)")
    try:
        run_logged(poetry_tools.install_command(poetry, config), log, cwd=project,
                   env=build_env({**activation_env(venv), "POETRY_NO_INTERACTION": "1"}))
    except CommandFailed as exc:
        raise EnvironmentBuildError(f"poetry install failed: {exc}", "failed installing requirements") from None
    frozen = Pip(python, config, log, pip_env(config)).freeze()
    return PythonEnvironment(python=python, root=venv, env=activation_env(venv), manager="poetry",
                             build_seconds=time.monotonic() - started,
                             requirements={"org_pip": task_requirements(task, code.cwd, code.root, config).original,
                                           "pip": frozen})


def build_conda(task: dict, code: CodeLocation, config: AgentConfig, log: LogLine, interpreter: Interpreter,
                venv: Path) -> PythonEnvironment:
    started = time.monotonic()
    conda = conda_tools.find_conda()
    if conda is None:
        raise EnvironmentBuildError("package_manager.type is conda but conda is not installed (install Miniconda "
                                    "or Miniforge and put conda on PATH, or use package_manager.type pip)",
                                    "conda not found")
    requirements = task_requirements(task, code.cwd, code.root, config)
    env = pip_env(config)
    remove_tree(venv)
    try:
        run_logged(conda_tools.create_command(conda, venv, interpreter.short_version, config), log, env=env)
    except CommandFailed as exc:
        raise EnvironmentBuildError(f"conda create failed: {exc}", "failed creating the environment") from None
    python = venv / "bin" / "python"
    pip = Pip(python, config, log, env)
    try:
        pip.install_plan(plan_install(requirements, config))
    except PipFailed as exc:
        raise EnvironmentBuildError(f"pip install failed: {exc}", "failed installing requirements") from None
    return PythonEnvironment(python=python, root=venv, manager="conda", build_seconds=time.monotonic() - started,
                             env={**activation_env(venv), "CONDA_PREFIX": str(venv)},
                             requirements={"org_pip": requirements.original, "pip": pip.freeze()})


def pip_env(config: AgentConfig) -> dict:
    extra = {}
    if config.get("agent.pip_download_cache.enabled") and config.get("agent.pip_download_cache.path"):
        extra["PIP_CACHE_DIR"] = config.get("agent.pip_download_cache.path")
    return build_env(extra)


def cache_material(requirements: Requirements, interpreter: Interpreter, system_site: bool, config: AgentConfig,
                   env: dict) -> dict:
    """Everything that decides what the venv holds (the cache key); URLs without credentials."""
    manager = "agent.package_manager."

    def urls(values) -> list[str]:
        return [" ".join(strip_url_credentials(part) for part in str(v).split()) for v in values]

    return {
        "manager": "pip",
        "python": interpreter.identity(),
        "requirements": requirements.normalised(),
        "system_site_packages": system_site,
        "pip_version": sorted(config.get(manager + "pip_version") or []),
        "extra_index_url": urls(config.get(manager + "extra_index_url") or []),
        "extra_pip_install_flags": list(config.get(manager + "extra_pip_install_flags") or []),
        "ordering": {key: sorted(config.get(manager + key) or []) for key in
                     ("priority_packages", "priority_optional_packages", "post_packages", "post_optional_packages")},
        "environment": {name: urls([env[name]])[0] for name in INDEX_VARIABLES if env.get(name)},
        "cuda_version": config.get("agent.cuda_version") or "",
    }


# The cache speeds things up; a problem with it (permissions, a full disk) never fails a task.
def _usable(cache: VenvCache | None, log: LogLine) -> VenvCache | None:
    if cache is None:
        return None
    try:
        cache.root.mkdir(parents=True, exist_ok=True)
        return cache
    except OSError as exc:
        log(f"venv cache: not used ({exc})")
        return None


def _restore(cache: VenvCache, key: str, venv: Path, log: LogLine):
    try:
        return cache.restore(key, venv)
    except OSError as exc:
        log(f"venv cache: restore failed ({exc}), building instead")
        return None


def _store(cache: VenvCache, key: str, venv: Path, frozen: list[str], material: dict, log: LogLine) -> None:
    try:
        if cache.store(key, venv, frozen, material):
            log(f"venv cache: stored {key[:12]}")
    except OSError as exc:
        log(f"venv cache: not stored ({exc})")


def _create(interpreter: Interpreter, venv: Path, system_site: bool) -> Path:
    try:
        return create_venv(interpreter, venv, system_site)
    except VenvFailed as exc:
        raise EnvironmentBuildError(str(exc), "failed creating the environment") from None

