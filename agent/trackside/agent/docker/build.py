"""``trackside-agent build --id X --docker [IMAGE] --target NAME [--entry-point reuse_task|clone_task]``:
an image with the task's environment.

The task's code and venv are prepared in a container of its image exactly as docker mode prepares them
(same bootstrap, same ``execute`` code, ``--prepare-only``: nothing is sent to the server), with this agent
installed into the container itself, which is then committed. With an entry point, starting the image runs
the task (or a clone of it) on that venv as is: ``docker run -e CLEARML_API_HOST=... -e
CLEARML_API_ACCESS_KEY=... -e CLEARML_API_SECRET_KEY=... NAME``. No credentials are in the image: the baked
configuration holds only where the venv is.
"""
from __future__ import annotations

import io
import json
import os
import tarfile
import threading

from trackside.agent.api import AgentApi, ApiError
from trackside.agent.config import AgentConfig
from trackside.agent.docker.agent_install import VENVS_DIR_IN_CONTAINER, VENVS_IN_CONTAINER
from trackside.agent.docker.launch import LAUNCH_ERRORS, ContainerLaunch

IMAGE_CONFIG = "/root/clearml.conf"
TASK_PYTHON = f"{VENVS_DIR_IN_CONTAINER}/0/bin/python"   # slot 0: the only one in a fresh container
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def run_build(args, config: AgentConfig) -> int:
    api = AgentApi.from_config(config)
    try:
        task = api.call("tasks.get_by_id", {"task": args.task_id})["task"]
    except ApiError as exc:
        print(f"trackside-agent build: {exc}")
        return 1
    finally:
        api.close()
    repository, _, tag = args.target.rpartition(":") if ":" in args.target.split("/")[-1] else (args.target, "", "")
    # The venv is built in the image, not restored from the cache mount (whose links would stay outside).
    config.set("agent.venvs_cache.path", "")
    inner = ["execute", "--id", args.task_id, "--prepare-only", "--log-to-stdout", "--log-level", args.log_level]
    ended = threading.Event()
    launch = ContainerLaunch(config, task, f"build:{os.getpid()}", args.docker or None, inner,
                             line=lambda text: print(text, flush=True), say=lambda text: print(text, flush=True),
                             share_agent_venv=False)
    try:
        try:
            launch.start(on_exit=ended.set)
        except LAUNCH_ERRORS as exc:
            print(f"trackside-agent build: {exc}")
            return 1
        ended.wait()
        if launch.exit_code != 0:
            print(f"trackside-agent build: preparing the environment failed (exit code {launch.exit_code})")
            return 1
        container = launch.container.container
        container.put_archive("/root", _config_archive())
        container.reload()
        base = launch.container.client.images.get(launch.container.spec.image).attrs.get("Config") or {}
        container.commit(repository=repository or args.target, tag=tag or None,
                         conf=_image_config(args.task_id, args.entry_point, base, container.attrs["Config"]),
                         message=f"trackside-agent build of task {args.task_id}")
    finally:
        launch.finish()
    print(f"built image {args.target} for task {args.task_id}"
          + (f" (entry point: {args.entry_point})" if args.entry_point else ""))
    return 0


def _image_config(task_id: str, entry_point: str | None, base: dict, built: dict) -> dict:
    """The committed image's configuration: the base image's, and with an entry point the task's run on the
    prepared venv. The engine merges the build container's own settings into a commit (each variable and
    label the commit does not name is kept), so every one the base image lacks is named here, empty: none
    of the build's values (an index URL with a token, its mounts' paths, its worker id) stays in the image.
    pip and the agent read an empty variable as unset."""
    base_env = [item for item in base.get("Env") or [] if not item.startswith("PYTHONUNBUFFERED=")]
    env = base_env + ["PYTHONUNBUFFERED=1"]
    if not any(item.startswith("PATH=") for item in env):
        env.append(f"PATH={PATH}")
    named = {item.partition("=")[0] for item in env}
    env += [f"{key}=" for key in (item.partition("=")[0] for item in built.get("Env") or []) if key not in named]
    base_labels = base.get("Labels") or {}
    labels = {key: "" for key in built.get("Labels") or {} if key not in base_labels}
    labels.update({**base_labels, "trackside.built-from-task": task_id})
    # Neither an entry point nor a command would inherit the build's bootstrap script as the command.
    default_cmd = base.get("Cmd") or (None if base.get("Entrypoint") else ["bash"])
    config = {"Env": env, "Labels": labels, "WorkingDir": base.get("WorkingDir") or "/root",
              "Entrypoint": base.get("Entrypoint"), "Cmd": default_cmd}
    if entry_point:
        clone = " --clone" if entry_point == "clone_task" else ""
        command = (f"exec {VENVS_IN_CONTAINER}/*/bin/python -m trackside.agent --config-file {IMAGE_CONFIG} "
                   f"execute --id {task_id} --standalone-mode{clone}")
        config.update({"Entrypoint": ["bash", "-c", command], "Cmd": None})
    return config


def _config_archive() -> bytes:
    """``/root/clearml.conf``: where the venv is; the server and credentials come from the environment."""
    text = json.dumps({"agent": {"python_binary": TASK_PYTHON, "venvs_dir": VENVS_DIR_IN_CONTAINER}}, indent=1)
    data = text.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("clearml.conf")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()



