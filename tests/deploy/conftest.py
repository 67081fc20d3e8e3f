"""Fixtures for the deployment tests. The server image is built once per session, from the local test image
(not the public Python base) and offline (the wheelhouse on 127.0.0.1), on the session's private dockerd
(support.docker_fixtures); every test that runs it asks for ``server_image``."""
from __future__ import annotations

import time

import docker
import pytest

from support.docker_engine import REPO

SERVER_IMAGE = "trackside-test/server:dev"


@pytest.fixture(scope="session")
def server_image(docker_engine, test_image, wheel_index) -> str:
    started = time.monotonic()
    try:
        docker_engine.client().images.build(
            path=str(REPO), dockerfile="deploy/server/Dockerfile", tag=SERVER_IMAGE, rm=True, forcerm=True,
            network_mode="host",
            buildargs={"BASE_IMAGE": test_image, "PIP_ARGS": f"--no-index --find-links {wheel_index}"})
    except docker.errors.BuildError as exc:
        log = "".join(chunk.get("stream", "") for chunk in exc.build_log)
        pytest.fail(f"{exc.msg}\n{log[-4000:]}")
    print(f"\nserver image {SERVER_IMAGE} built in {time.monotonic() - started:.0f} s")
    return SERVER_IMAGE
