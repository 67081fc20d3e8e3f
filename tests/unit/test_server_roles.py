"""The server image's entry point and HEALTHCHECK helpers (trackside.shared.roles, .healthcheck) without a
container: role look-up, the probe address, and reading the role from the first process's environment."""
from __future__ import annotations

import pytest

from trackside.shared import healthcheck, roles


def test_an_unknown_or_missing_role_lists_the_roles(capsys):
    assert roles.main([]) == 2
    assert roles.main(["nonsense"]) == 2
    assert "init-config" in capsys.readouterr().err


def test_a_role_whose_command_is_missing_says_so(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert roles.main(["watchdog"]) == 127
    assert "trackside-watchdog" in capsys.readouterr().err


@pytest.mark.parametrize("host, url", [
    ("0.0.0.0", "http://127.0.0.1:8008/health/ready"),
    ("", "http://127.0.0.1:8008/health/ready"),
    ("::", "http://[::1]:8008/health/ready"),
    ("10.1.2.3", "http://10.1.2.3:8008/health/ready"),
])
def test_the_probe_asks_where_the_role_listens(host, url):
    assert healthcheck.ready_url(host, 8008) == url


def test_the_role_of_the_first_process(tmp_path):
    environ = tmp_path / "environ"
    environ.write_bytes(b"PATH=/bin\0TRACKSIDE_ROLE=fileserver\0HOME=/\0")
    assert healthcheck.first_process_role(environ) == "fileserver"
    environ.write_bytes(b"PATH=/bin\0")
    assert healthcheck.first_process_role(environ) is None
    assert healthcheck.first_process_role(tmp_path / "missing") is None


def test_one_shot_roles_are_healthy_and_unknown_ones_not(monkeypatch):
    monkeypatch.delenv("TRACKSIDE_ROLE", raising=False)
    assert healthcheck.main(["init-config"]) == 0
    assert healthcheck.main(["admin"]) == 0
    assert healthcheck.main(["nonsense"]) == 1
