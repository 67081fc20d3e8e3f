"""Fixtures for the agent's tests: daemons started with `support.daemons.start` are stopped after each test.
Docker mode's private dockerd and local test image are session fixtures of support.docker_fixtures."""
from __future__ import annotations

import pytest

from support.daemons import stop_started


@pytest.fixture(autouse=True)
def _stop_daemons():
    """Daemons a test left running (it failed, or it had no reason to stop them) would outlive the API."""
    yield
    stop_started()
