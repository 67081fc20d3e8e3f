"""The private Docker Engine and the local test image work as the docker tests expect: a container on the
host network runs the image's python, its output comes back, and a bind mount is shared."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_a_container_runs_python_on_the_host_network_with_a_bind_mount(docker_engine, test_image, tmp_path):
    (tmp_path / "in.txt").write_text("from the host")
    output = docker_engine.client().containers.run(
        test_image, ["python3", "-c", "print(open('/mnt/in.txt').read()); open('/mnt/out.txt','w').write('back')"],
        network_mode="host", volumes={str(tmp_path): {"bind": "/mnt", "mode": "rw"}}, remove=True)
    assert output.decode().strip() == "from the host"
    assert (tmp_path / "out.txt").read_text() == "back"
