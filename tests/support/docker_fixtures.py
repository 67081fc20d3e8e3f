"""Docker fixtures shared by every docker test (tests/agent, tests/deploy), made global by tests/conftest.py so
one session starts one private dockerd and imports the local test image once.

Without docker.io/debootstrap the docker tests are skipped on a developer's machine and fail in CI, where
.ci/run installs them."""
from __future__ import annotations

import functools
import http.server
import os
import threading

import pytest

from support.docker_engine import DockerEngine, DockerUnavailable
from support.our_agent import WHEELHOUSE


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
    """The local debootstrap image (python3, venv, git): the base images are built from offline."""
    return docker_engine.ensure_test_image()


@pytest.fixture(scope="session")
def wheel_index():
    """The wheelhouse over HTTP on 127.0.0.1: image builds' pip reads it with --no-index --find-links."""
    handler = functools.partial(_QuietFiles, directory=str(WHEELHOUSE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - one line per wheel would flood the test output
        pass
