"""Docker command-line arguments (``container.arguments``, ``agent.extra_docker_arguments``, ``--docker
IMAGE ARGS``) as docker-py ``containers.create`` keyword arguments.

Only the options a task container needs are understood; anything else is refused by name rather than
dropped, so a typo or an unsupported option never silently changes how a task runs.
"""
from __future__ import annotations

import shlex
from typing import Iterable

import docker.types


class DockerArgumentError(ValueError):
    """An argument docker mode does not support or cannot parse; the message names it."""


# option -> (docker-py keyword, how the value is kept)
_VALUE_OPTIONS = {
    "-e": ("environment", "env"), "--env": ("environment", "env"),
    "-v": ("volumes", "list"), "--volume": ("volumes", "list"),
    "--network": ("network_mode", "one"), "--net": ("network_mode", "one"),
    "--ipc": ("ipc_mode", "one"), "--pid": ("pid_mode", "one"), "--shm-size": ("shm_size", "one"),
    "--cap-add": ("cap_add", "list"), "--cap-drop": ("cap_drop", "list"),
    "-l": ("labels", "env"), "--label": ("labels", "env"),
    "-u": ("user", "one"), "--user": ("user", "one"),
    "-w": ("working_dir", "one"), "--workdir": ("working_dir", "one"),
    "--runtime": ("runtime", "one"), "--device": ("devices", "list"),
    "--gpus": ("device_requests", "gpus"), "--ulimit": ("ulimits", "ulimit"),
    "--name": ("name", "one"), "--hostname": ("hostname", "one"), "-h": ("hostname", "one"),
    "--add-host": ("extra_hosts", "host"), "--security-opt": ("security_opt", "list"),
    "--entrypoint": ("entrypoint", "one"), "--memory": ("mem_limit", "one"), "-m": ("mem_limit", "one"),
    "--cpus": ("nano_cpus", "cpus"),
}
_FLAGS = {"--privileged": ("privileged", True), "--init": ("init", True), "--rm": (None, None),
          "-t": ("tty", True), "--tty": ("tty", True), "-i": (None, None), "-it": ("tty", True)}


def split_arguments(parts: Iterable[str]) -> list[str]:
    """``["--network host", "-e A=1"]`` and ``["--network", "host"]`` alike: one token per word."""
    tokens: list[str] = []
    for part in parts or []:
        tokens += shlex.split(part) if isinstance(part, str) else [str(part)]
    return tokens


def parse_arguments(parts: Iterable[str], forbidden: Iterable[str] = ()) -> dict:
    """docker-py keywords for the arguments, later ones winning for single values."""
    banned = {f"--{name.lstrip('-')}" for name in forbidden}
    tokens, kwargs, i = split_arguments(parts), {}, 0
    while i < len(tokens):
        token = tokens[i]
        option, _, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if option in banned:
            raise DockerArgumentError(f"docker argument {option} is not allowed here (agent.forbidden_docker_args)")
        if option in _FLAGS and "=" not in token:
            key, value = _FLAGS[option]
            if key:
                kwargs[key] = value
            i += 1
            continue
        if option not in _VALUE_OPTIONS:
            raise DockerArgumentError(f"docker argument {token!r} is not supported in docker mode "
                                      f"(supported: {', '.join(sorted(set(_VALUE_OPTIONS) | set(_FLAGS)))})")
        if token.startswith("--") and "=" in token:   # --network=host
            value, i = inline, i + 1
        elif i + 1 < len(tokens):
            value, i = tokens[i + 1], i + 2
        else:
            raise DockerArgumentError(f"docker argument {option} needs a value")
        key, how = _VALUE_OPTIONS[option]
        _store(kwargs, key, how, value, option)
    return kwargs


def _store(kwargs: dict, key: str, how: str, value: str, option: str) -> None:
    if how == "one":
        kwargs[key] = value
    elif how == "list":
        kwargs.setdefault(key, []).append(value)
    elif how == "env":
        name, sep, val = value.partition("=")
        if not name:
            raise DockerArgumentError(f"docker argument {option} {value!r}: expected NAME=VALUE")
        kwargs.setdefault(key, {})[name] = val if sep else ""
    elif how == "host":
        name, sep, address = value.partition(":")
        if not sep:
            raise DockerArgumentError(f"docker argument {option} {value!r}: expected HOST:ADDRESS")
        kwargs.setdefault(key, {})[name] = address
    elif how == "gpus":
        kwargs.setdefault(key, []).append(gpu_request(value))
    elif how == "ulimit":
        name, _, limits = value.partition("=")
        soft, _, hard = limits.partition(":")
        try:
            kwargs.setdefault(key, []).append(docker.types.Ulimit(name=name, soft=int(soft), hard=int(hard or soft)))
        except ValueError:
            raise DockerArgumentError(f"docker argument {option} {value!r}: expected NAME=SOFT[:HARD]") from None
    elif how == "cpus":
        try:
            kwargs[key] = int(float(value) * 1e9)
        except ValueError:
            raise DockerArgumentError(f"docker argument {option} {value!r}: expected a number of CPUs") from None


def gpu_request(value: str) -> docker.types.DeviceRequest:
    """``all`` / ``2`` (a count) / ``device=0,1`` / ``"device=0,1"``, as ``docker run --gpus`` takes them."""
    text = value.strip().strip('"')
    if text == "all":
        return docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])
    if text.isdigit():
        return docker.types.DeviceRequest(count=int(text), capabilities=[["gpu"]])
    if text.startswith("device="):
        return device_request([d for d in text[len("device="):].split(",") if d])
    raise DockerArgumentError(f"docker argument --gpus {value!r}: expected all, a count or device=0,1")


def device_request(devices: list[str]) -> docker.types.DeviceRequest:
    return docker.types.DeviceRequest(device_ids=list(devices), capabilities=[["gpu"]])
