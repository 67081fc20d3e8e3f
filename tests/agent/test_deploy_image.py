"""The agent image (deploy/agent/Dockerfile), built from the local test image instead of the CUDA base and
offline from the wheelhouse, configured by environment variables alone: it serves a queue through the host's
Docker Engine (its socket mounted) and runs a task in a sibling container."""
from __future__ import annotations

import json
import shutil
import time

import pytest

from support.docker_engine import REPO
from support.names import unique
from support.objects import get_task
from support.our_agent import WHEELHOUSE

pytestmark = [pytest.mark.docker, pytest.mark.slow]
AGENT_IMAGE = "trackside-test/agent:dev"


def test_the_agent_image_runs_a_task_in_a_sibling_container(api, api_server, docker_engine, test_image,
                                                            wheel_index, tmp_path):
    client = docker_engine.client()
    client.images.build(path=str(REPO), dockerfile="deploy/agent/Dockerfile", tag=AGENT_IMAGE, rm=True,
                        network_mode="host", buildargs={"BASE_IMAGE": test_image,
                                                        "PIP_ARGS": f"--no-index --find-links {wheel_index}"})
    host_home = tmp_path / "clearml"           # the agent's ~/.clearml, shared with the task containers
    shutil.copytree(WHEELHOUSE, host_home / "wheelhouse")
    queue = unique("gpu-node")
    agent = client.containers.run(
        AGENT_IMAGE, detach=True, network_mode="host", labels={"trackside.test": "deploy"},
        volumes={docker_engine.socket.as_posix(): {"bind": "/var/run/docker.sock", "mode": "rw"},
                 str(host_home): {"bind": "/root/.clearml", "mode": "rw"}},
        environment={
            "CLEARML_API_HOST": api_server.url, "CLEARML_API_ACCESS_KEY": api_server.key,
            "CLEARML_API_SECRET_KEY": api_server.secret, "TRACKSIDE_AGENT_QUEUES": queue,
            "TRACKSIDE_AGENT_ARGS": "--create-queue", "CLEARML_DOCKER_IMAGE": test_image,
            "CLEARML_AGENT_EXTRA_DOCKER_ARGS": "--network host",
            "CLEARML_AGENT_DOCKER_HOST_MOUNT": f"{host_home}:/root/.clearml",
            "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/root/.clearml/wheelhouse",
        })
    try:
        deadline = time.monotonic() + 120
        while not api.ok("queues.get_all", name=f"^{queue}$")["queues"]:
            agent.reload()
            assert agent.status == "running" and time.monotonic() < deadline, agent.logs()[-3000:].decode()
            time.sleep(0.5)
        queue_id = api.ok("queues.get_all", name=f"^{queue}$")["queues"][0]["id"]
        workers = [w for w in api.ok("workers.get_all")["workers"] if queue_id in [q["id"] for q in w["queues"]]]
        assert len(workers) == 1
        task = api.ok("tasks.create", name=unique("on-node"), type="training",
                      script={"diff": "print('HELLO FROM A SIBLING CONTAINER')", "entry_point": "job.py",
                              "working_dir": "."})["id"]
        api.ok("tasks.enqueue", task=task, queue=queue_id)
        while get_task(api, task)["status"] not in ("completed", "failed", "stopped"):
            assert time.monotonic() < deadline + 240, agent.logs()[-3000:].decode()
            time.sleep(1)
        events = api.ok("events.get_task_log", task=task, batch_size=500)["events"]
        assert get_task(api, task)["status"] == "completed", agent.logs()[-3000:].decode()
        assert any("HELLO FROM A SIBLING CONTAINER" in e.get("msg", "") for e in events)
        assert api_server.secret not in json.dumps(client.images.get(AGENT_IMAGE).attrs["Config"])
    finally:
        agent.stop(timeout=30)
        agent.remove(force=True)
