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
from trackside.agent.docker.agent_install import VENVS_IN_CONTAINER
from trackside.agent.docker.launch import LAUNCH_ERRORS, ContainerLaunch
from trackside.agent.docker.spec import VENVS_DIR_IN_CONTAINER

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
        container.commit(repository=repository or args.target, tag=tag or None,
                         conf=_image_config(args.task_id, args.entry_point),
                         message=f"trackside-agent build of task {args.task_id}")
    finally:
        launch.finish()
    print(f"built image {args.target} for task {args.task_id}"
          + (f" (entry point: {args.entry_point})" if args.entry_point else ""))
    return 0


def _image_config(task_id: str, entry_point: str | None) -> dict:
    """The committed image's configuration: a clean environment (none of the build's mounts or variables)
    and, with an entry point, the task's run on the prepared venv."""
    config = {"Env": [f"PATH={PATH}", "PYTHONUNBUFFERED=1"], "WorkingDir": "/root", "Cmd": ["bash"],
              "Entrypoint": None, "Labels": {"trackside.built-from-task": task_id}}
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



