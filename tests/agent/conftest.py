"""Fixtures for the agent's tests: daemons started with `support.daemons.start` are stopped after each test;
docker mode gets a private dockerd and the local test image (session-wide, started only when a docker test
runs). Without docker.io/debootstrap the docker tests are skipped on a developer's machine and fail in CI,
where .ci/run installs them."""
from __future__ import annotations

import os

import pytest

from support.daemons import stop_started
from support.docker_engine import DockerEngine, DockerUnavailable


@pytest.fixture(autouse=True)
def _stop_daemons():
    """Daemons a test left running (it failed, or it had no reason to stop them) would outlive the API."""
    yield
    stop_started()


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory):
    try:
        engine = DockerEngine(tmp_path_factory.mktemp("docker"))
    except DockerUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"docker tests cannot run in CI: {exc}")
        pytest.skip(str(exc))
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def test_image(docker_engine) -> str:
    return docker_engine.ensure_test_image()
