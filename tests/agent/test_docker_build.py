"""`trackside-agent build`: an image with the task's environment whose entry point runs the task (`reuse_task`)
or a clone of it (`clone_task`, the same command with `--clone`: what that does is tested with `execute`);
it carries nothing of the build (the engine merges the build container's variables and labels into a
commit) and no credentials."""
from __future__ import annotations

import json

import pytest

from support.names import unique
from support.objects import get_task
from support.our_agent import AgentHome
from trackside.agent.docker.build import _image_config
from trackside.agent.docker.spec import TASK_LABEL, WORKER_LABEL

BUILD_TOKEN = "build-only-token"


def test_the_image_keeps_the_base_settings_and_empties_the_build_ones():
    base = {"Env": ["PATH=/usr/local/cuda/bin:/usr/bin", "NVIDIA_VISIBLE_DEVICES=all"],
            "Labels": {"maintainer": "NVIDIA"}, "Entrypoint": ["/opt/nvidia/nvidia_entrypoint.sh"], "Cmd": None}
    built = {"Env": ["PATH=/usr/local/cuda/bin:/usr/bin", "NVIDIA_VISIBLE_DEVICES=all", "CLEARML_WORKER_ID=build:1",
                     f"PIP_EXTRA_INDEX_URL=https://u:{BUILD_TOKEN}@index/simple", "PYTHONUNBUFFERED=1"],
             "Labels": {"maintainer": "NVIDIA", TASK_LABEL: "t1", WORKER_LABEL: "build:1"}}
    plain = _image_config("t1", None, base, built)
    assert plain["Env"] == ["PATH=/usr/local/cuda/bin:/usr/bin", "NVIDIA_VISIBLE_DEVICES=all", "PYTHONUNBUFFERED=1",
                            "CLEARML_WORKER_ID=", "PIP_EXTRA_INDEX_URL="]
    assert plain["Labels"] == {"maintainer": "NVIDIA", TASK_LABEL: "", WORKER_LABEL: "",
                               "trackside.built-from-task": "t1"}
    assert (plain["Entrypoint"], plain["Cmd"]) == (["/opt/nvidia/nvidia_entrypoint.sh"], None)
    # An imported rootfs has no settings at all: a PATH, and a shell rather than the build's bootstrap.
    bare = _image_config("t1", "clone_task", {}, built)
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in bare["Env"]
    assert bare["Cmd"] is None and bare["Entrypoint"][-1].endswith("execute --id t1 --standalone-mode --clone")
    assert _image_config("t1", None, {}, built)["Cmd"] == ["bash"]


@pytest.mark.docker
@pytest.mark.slow
def test_build_makes_an_image_that_runs_the_task(api, api_server, docker_engine, test_image, tmp_path_factory):
    """`build --target NAME --entry-point reuse_task`: the image holds the task's environment; started with
    the server's address and credentials in its environment (none are in the image), it runs the task."""
    home = AgentHome.create(tmp_path_factory.mktemp("docker-build"), api_server,
                            {"extra_docker_arguments": ["--network", "host"]},
                            # passed to the build container (pip ignores it offline); it must not reach the image
                            extra_env={**docker_engine.env(),
                                       "PIP_EXTRA_INDEX_URL": f"http://u:{BUILD_TOKEN}@127.0.0.1:9/simple"})
    task = api.ok("tasks.create", name=unique("to-build"), type="training",
                  script={"diff": "import sys; print('BUILT IMAGE RUNS', sys.prefix)", "entry_point": "job.py",
                          "working_dir": "."}, container={"image": test_image})["id"]
    target = f"trackside-test/built:{task[:8]}"
    built = home.run("build", "--id", task, "--docker", "--target", target, "--entry-point", "reuse_task",
                     timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert get_task(api, task)["status"] == "created"   # building does not touch the task
    client = docker_engine.client()
    config = json.dumps(client.images.get(target).attrs["Config"])
    assert BUILD_TOKEN not in config and api_server.secret not in config and "build:" not in config

    output = client.containers.run(target, network_mode="host", remove=True, environment={
        "CLEARML_API_HOST": api_server.url, "CLEARML_API_ACCESS_KEY": api_server.key,
        "CLEARML_API_SECRET_KEY": api_server.secret}).decode()
    assert get_task(api, task)["status"] == "completed", output[-3000:]
    events = api.ok("events.get_task_log", task=task, batch_size=500)["events"]
    log = "\n".join(e.get("msg", "") for e in events)
    assert "BUILT IMAGE RUNS /root/.clearml/venvs-builds/0" in log
    assert "no venv (standalone mode" in log   # the venv made at build time, used as is
    client.images.remove(target)
