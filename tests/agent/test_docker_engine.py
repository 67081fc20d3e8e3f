"""The private Docker Engine and the local test image work as the docker tests expect: a container on the
host network runs the image's python, its output comes back, and a bind mount is shared."""
from __future__ import annotations

import pytest

from trackside.agent.docker.container import ContainerError, TaskContainer
from trackside.agent.docker.spec import ContainerSpec
from trackside.shared.embedded.process import free_port

pytestmark = pytest.mark.docker


def test_a_container_runs_python_on_the_host_network_with_a_bind_mount(docker_engine, test_image, tmp_path):
    (tmp_path / "in.txt").write_text("from the host")
    output = docker_engine.client().containers.run(
        test_image, ["python3", "-c", "print(open('/mnt/in.txt').read()); open('/mnt/out.txt','w').write('back')"],
        network_mode="host", volumes={str(tmp_path): {"bind": "/mnt", "mode": "rw"}}, remove=True)
    assert output.decode().strip() == "from the host"
    assert (tmp_path / "out.txt").read_text() == "back"


def test_force_pull_falls_back_to_the_local_copy_only_when_there_is_one(docker_engine, test_image):
    """``agent.docker_force_pull`` with the registry down: the image already here runs (the log says so);
    an image that is nowhere fails with the registry's answer. The registry is a closed loopback port, so
    the engine's pull goes nowhere else."""
    registry = f"127.0.0.1:{free_port()}"
    local = f"{registry}/trackside-test/python:bookworm"
    client = docker_engine.client()
    client.images.get(test_image).tag(local)
    said: list[str] = []
    try:
        container = TaskContainer(client, ContainerSpec(local, ["true"], {"network_mode": "host"}))
        container.start(True, said.append)
        container.remove()
        assert said[0] == f"pulling image {local}"
        assert said[1].startswith(f"could not pull image {local}") and said[1].endswith("running the local copy")
        absent = TaskContainer(client, ContainerSpec(f"{registry}/trackside-test/absent:1", ["true"], {}))
        with pytest.raises(ContainerError, match=f"could not pull image {registry}/trackside-test/absent:1"):
            absent.start(True, said.append)
    finally:
        client.images.remove(local)
