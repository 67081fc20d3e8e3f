"""Which container a task runs in: image, arguments, setup script, mounts, environment, name and labels.

Precedence, as clearml-agent: the task's ``container`` section (or its legacy ``execution.docker_cmd``),
unless ``agent.disable_task_docker_override``; else the daemon's ``--docker IMAGE ARGS``; else
``agent.default_docker``. ``agent.extra_docker_arguments`` always apply, before the task's own.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from trackside.agent.config import AgentConfig
from trackside.agent.config.loader import TOKEN_FILE_ENV
from trackside.agent.docker import agent_install
from trackside.agent.docker.agent_install import VENVS_DIR_IN_CONTAINER
from trackside.agent.docker.arguments import (
    DockerArgumentError, device_request, gpu_request, parse_arguments, split_arguments,
)
from trackside.agent.docker.mounts import SDK_CACHE, Mount, cache_mounts, host_path, in_container, ssh_environment
from trackside.agent.docker.restart import ENV as RESTART_ENV, restart_policy, task_field
from trackside.agent.gpus import detect_gpu_count

DEFAULT_NAME_FORMAT = "trackside-{task_id}-{rand_string:.6}"
TASK_LABEL, WORKER_LABEL = "trackside.task", "trackside.worker"
# clearml-agent's labels: the worker the task runs as, and the agent (daemon) that started it.
CLEARML_WORKER_LABEL, CLEARML_PARENT_WORKER_LABEL = "clearml-worker-id", "clearml-parent-worker-id"
PARENT_WORKER_ENV = "TRACKSIDE_AGENT_PARENT_WORKER"   # the daemon's worker id, set for its children
EXTRA_LABELS_ENV = "CLEARML_AGENT_EXTRA_DOCKER_LABELS"
_VALID_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
# Build slots inside the venv cache folder (a name the cache neither lists nor clears, see venv_cache.py).
DOCKER_BUILDS = ".docker_builds"
FIND_LINKS_IN_CONTAINER = "/trackside/find-links"
# Variables a task container inherits from the agent (the pip source and how verbose it is).
SKIP_GPUS_FLAG_ENV = "CLEARML_DOCKER_SKIP_GPUS_FLAG"
PASSED_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT",
              "CLEARML_AGENT_SKIP_PIP_VENV_INSTALL", "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL")


@dataclass
class ContainerSpec:
    image: str
    command: list[str]
    options: dict                                   # docker-py create() keywords from the arguments
    mounts: list[Mount] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    name: str | None = None

    def create_kwargs(self) -> dict:
        options = dict(self.options)
        volumes = [m.volume() for m in self.mounts] + options.pop("volumes", [])
        # An init process as PID 1 (docker's tini) passes SIGTERM on: a shell as PID 1 ignores it, and a stop
        # during the setup script would wait out the whole grace period.
        options.setdefault("init", True)
        return {**options, "image": self.image, "command": self.command, "name": options.get("name", self.name),
                "environment": {**self.environment, **options.get("environment", {})},
                "labels": {**options.get("labels", {}), **self.labels}, "volumes": volumes, "detach": True}


def task_image(task: dict, config: AgentConfig, flag: list[str] | None) -> tuple[str, list[str]]:
    """``(image, arguments)`` for the task."""
    if not config.get("agent.disable_task_docker_override"):
        container = task.get("container") or {}
        if (container.get("image") or "").strip():
            return container["image"].strip(), split_arguments([container.get("arguments") or ""])
        legacy = split_arguments([(task.get("execution") or {}).get("docker_cmd") or ""])
        if legacy:
            return legacy[0], legacy[1:]
    if flag:
        return flag[0], split_arguments(flag[1:])
    default = config.get("agent.default_docker.image") or ""
    if not default:
        raise DockerArgumentError("no image: the task names none and agent.default_docker.image is empty")
    return default, split_arguments(config.get("agent.default_docker.arguments") or [])


def setup_script(task: dict, config: AgentConfig) -> list[str]:
    """The task's ``container.setup_shell_script``, then ``agent.extra_docker_shell_script``."""
    own = ((task.get("container") or {}).get("setup_shell_script") or "").splitlines()
    return [line for line in own + list(config.get("agent.extra_docker_shell_script") or []) if line.strip()]


def init_script(config: AgentConfig) -> list[str] | None:
    """``agent.docker_preprocess_bash_script`` then ``agent.docker_init_bash_script`` (which replaces the
    default init, as in clearml-agent); None: the default init alone."""
    before = list(config.get("agent.docker_preprocess_bash_script") or [])
    own = list(config.get("agent.docker_init_bash_script") or [])
    if not before and not own:
        return None
    return before + (own or agent_install.DEFAULT_INIT_SCRIPT)


def build_spec(task: dict, config: AgentConfig, *, flag: list[str] | None, inner_command: list[str], worker: str,
               task_dir: Path, wheels: Path, agent_venvs: Path | None, environ: dict[str, str],
               build_slot: str | None = None, owner_token: bool = False,
               warn: Callable[[str], None] | None = None) -> ContainerSpec:
    """``agent_venvs``: the host folder that keeps the agent's venv per interpreter; None installs the agent
    into the container itself (``build``: it must be in the image). ``build_slot``: the slot under the venv
    cache's ``DOCKER_BUILDS`` that the container's venvs folder is to be (see ``ContainerLaunch``).
    ``owner_token``: the agent inside authenticates with the token file in the task's folder. ``warn``: where
    settings that are ignored (a bad name format, restart policy or label) are said (the task's log)."""
    image, task_arguments = task_image(task, config, flag)
    forbidden = config.get("agent.forbidden_docker_args") or []
    options = parse_arguments(list(config.get("agent.extra_docker_arguments") or []) + task_arguments, forbidden)
    mounts = cache_mounts(config, environ) + [
        Mount(host_path(str(wheels), environ), agent_install.WHEELS_IN_CONTAINER, read_only=True),
        Mount(host_path(str(task_dir), environ), agent_install.TASK_DIR_IN_CONTAINER),
    ]
    if agent_venvs is not None:
        mounts.append(Mount(host_path(str(agent_venvs), environ), agent_install.VENVS_IN_CONTAINER))
    environment = {"PYTHONUNBUFFERED": "1", "CLEARML_WORKER_ID": worker, **ssh_environment(mounts)}
    if owner_token:
        environment[TOKEN_FILE_ENV] = agent_install.TOKEN_IN_CONTAINER
    policy = restart_policy(environ.get(RESTART_ENV), task, warn)
    if policy:
        options["restart_policy"] = policy   # the agent inside ends the task itself (see restart.py)
        environment[agent_install.RESTARTABLE_ENV] = "1"
    else:
        environment[agent_install.RESULT_ENV] = agent_install.RESULT_IN_CONTAINER
    if environ.get("CLEARML_WORKER_TAGS"):
        environment["CLEARML_WORKER_TAGS"] = environ["CLEARML_WORKER_TAGS"]
    environment.update({name: environ[name] for name in PASSED_ENV if environ.get(name) is not None})
    find_links = _find_links(environ)
    for i, folder in enumerate(find_links):
        mounts.append(Mount(host_path(folder, environ), f"{FIND_LINKS_IN_CONTAINER}/{i}", read_only=True))
    if find_links:
        environment["PIP_FIND_LINKS"] = " ".join(f"{FIND_LINKS_IN_CONTAINER}/{i}" for i in range(len(find_links)))
    if environ.get("TRACKSIDE_AGENT_QUEUE"):
        environment["TRACKSIDE_AGENT_QUEUE"] = environ["TRACKSIDE_AGENT_QUEUE"]
    _gpus(options, environment, environ)
    labels = task_labels(task["id"], worker, environ.get(PARENT_WORKER_ENV) or worker,
                         config.get("agent.extra_docker_labels") or [], warn)
    builds = None
    if build_slot is not None:
        builds = f"{in_container(config)['agent.venvs_cache.path']}/{DOCKER_BUILDS}/{build_slot}"
    script = agent_install.bootstrap_script(setup_script(task, config), inner_command, wheels, builds,
                                            init_script(config))
    return ContainerSpec(image, ["bash", "-c", script], options, mounts, environment, labels,
                         container_name(config, task, worker, warn))


def task_labels(task_id: str, worker: str, parent_worker: str, extra: list[str],
                warn: Callable[[str], None] | None = None) -> dict[str, str]:
    """Ours (what the daemon finds a task's container by), clearml-agent's worker labels, then
    ``agent.extra_docker_labels`` / ``CLEARML_AGENT_EXTRA_DOCKER_LABELS`` (``key=value``; ``key`` alone is an
    empty label, as ``docker run -l key`` makes it)."""
    labels = {TASK_LABEL: task_id, WORKER_LABEL: worker, CLEARML_WORKER_LABEL: worker,
              CLEARML_PARENT_WORKER_LABEL: parent_worker}
    for label in extra:
        key, _, value = str(label).partition("=")
        if not key.strip():
            _say(warn, f"docker label {label!r} ignored: expected key=value")
        elif key.strip() in (TASK_LABEL, WORKER_LABEL):
            _say(warn, f"docker label {key.strip()!r} ignored: the agent sets it")
        else:
            labels[key.strip()] = value
    return labels


def container_name(config: AgentConfig, task: dict, worker: str, warn: Callable[[str], None] | None = None) -> str:
    """``agent.docker_container_name_format`` with ``{task_id}``, ``{worker_id}``, ``{rand_string}`` (32
    random lower-case letters: ``{rand_string:.8}`` takes 8) and the fields
    ``agent.docker_container_name_format_fields`` names (``{name: "task.field.path"}``, read from the task),
    as clearml-agent allows. A format that does not work, or a name docker would refuse, is said through
    ``warn`` and the default name is used: the task still runs."""
    task_id = task["id"]
    template = config.get("agent.docker_container_name_format") or ""
    if template:
        fields = {"task_id": _name_safe(task_id), "worker_id": _name_safe(worker),
                  "rand_string": "".join(secrets.choice(string.ascii_lowercase) for _ in range(32))}
        for key, path in (config.get("agent.docker_container_name_format_fields") or {}).items():
            fields[key] = task_field(task, str(path))
        try:
            name = template.format(**fields)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
            _say(warn, f"agent.docker_container_name_format {template!r} ignored ({type(exc).__name__}: {exc}); "
                       "using the default container name")
        else:
            if _VALID_NAME.fullmatch(name) and len(name) <= 255:
                return name
            _say(warn, f"agent.docker_container_name_format {template!r} gives {name!r}, which docker refuses; "
                       "using the default container name")
    return DEFAULT_NAME_FORMAT.format(task_id=_name_safe(task_id), rand_string=secrets.token_hex(8))


def _name_safe(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9._-]", "-", text)


def _say(warn: Callable[[str], None] | None, text: str) -> None:
    if warn is not None:
        warn(text)


def inner_config(config: AgentConfig, with_credentials: bool = True) -> str:
    """The configuration the agent in the container reads, and the task's SDK with it: this agent's whole
    ``clearml.conf`` (``sdk`` storage credentials, ``environment``, ``files``...), with its folders where the
    container has them. Written 0600 in the task's own folder; it holds the credentials, which therefore
    never appear in the container's environment (``docker inspect``) or command line. Without credentials
    (``--use-owner-token``): the agent's own key and secret stay out, the owner's token is the container's."""
    values = json.loads(json.dumps(config.values, default=str))
    if not with_credentials:
        (values.get("api") or {}).pop("credentials", None)
    agent = values.setdefault("agent", {})
    agent["venvs_dir"] = VENVS_DIR_IN_CONTAINER
    agent["python_binary"] = ""    # the image's python, not this machine's path
    for key, target in in_container(config).items():
        *sections, leaf = key.split(".")
        node = values
        for section in sections:
            node = node.setdefault(section, {})
        if node.get(leaf) or key == SDK_CACHE:   # a cache that is off stays off; the SDK's is always mounted
            node[leaf] = target
    return json.dumps(_without_unset(values), indent=1)


def _without_unset(tree):
    """Unset values (None) are left out, so the agent inside fills its own defaults for them."""
    if isinstance(tree, dict):
        return {key: _without_unset(value) for key, value in tree.items() if value is not None}
    return tree


def _find_links(environ: dict[str, str]) -> list[str]:
    raw = environ.get("PIP_FIND_LINKS") or ""
    return [part for part in raw.split() if os.path.isdir(part)]


def _gpus(options: dict, environment: dict[str, str], environ: dict[str, str]) -> None:
    """The GPUs this task may use become a device request: the daemon's ``--gpus`` / dynamic GPUs, or with no
    restriction every GPU this machine has (none on a CPU machine, where a GPU request would fail the
    container); with ``--cpu-only`` it gets none. Arguments that ask for GPUs themselves win.
    ``CLEARML_DOCKER_SKIP_GPUS_FLAG`` (an engine whose default runtime is nvidia's): no request, the devices
    go in ``NVIDIA_VISIBLE_DEVICES``."""
    if "device_requests" in options:
        return
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        devices = [d.strip() for d in visible.split(",") if d.strip()]
    else:
        nvidia = (environ.get("NVIDIA_VISIBLE_DEVICES") or "").strip()
        if nvidia.lower() in ("none", "void"):
            devices = []
        elif nvidia and nvidia.lower() != "all":
            devices = [d.strip() for d in nvidia.split(",") if d.strip()]
        elif nvidia.lower() == "all" or detect_gpu_count() > 0:
            devices = ["all"]
        else:
            return   # a CPU machine, nothing asked: nothing to pass
    if not devices:
        environment["NVIDIA_VISIBLE_DEVICES"] = "none"
    elif environ.get(SKIP_GPUS_FLAG_ENV):
        environment["NVIDIA_VISIBLE_DEVICES"] = ",".join(devices)
    else:
        options["device_requests"] = [gpu_request("all") if devices == ["all"] else device_request(devices)]
