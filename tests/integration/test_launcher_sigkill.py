"""A `trackside-run` killed outright (SIGKILL, as the OOM killer does) takes every server it started with it:
none of its descendants lives on, and the ports they listened on are free again."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from support.waiting import wait_for
from trackside.shared.embedded.process import free_port, port_open

pytestmark = pytest.mark.slow
LAUNCHER = str(Path(sys.executable).with_name("trackside-run"))


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _listening_ports(processes: list[psutil.Process]) -> set[int]:
    ports = set()
    for process in processes:
        try:
            ports |= {c.laddr.port for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    return ports


def _serving(ports: dict[str, int]) -> bool:
    """Each gunicorn answers from a booted worker (a worker killed mid-boot waits out its store timeouts)."""
    paths = {"APISERVER": "/debug.ping", "FILESERVER": "/", "WEBAPP": "/health/ready"}
    try:
        return all(requests.get(f"http://127.0.0.1:{ports[name]}{path}", timeout=2).status_code == 200
                   for name, path in paths.items())
    except requests.RequestException:
        return False


def test_sigkilled_launcher_leaves_no_server_behind(tmp_path):
    ports = {"APISERVER": free_port(), "FILESERVER": free_port(), "WEBAPP": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARML")}
    env.update({f"CLEARML__{name}__LISTEN__PORT": str(port) for name, port in ports.items()})
    launcher = subprocess.Popen([LAUNCHER, "--home", str(tmp_path / "home")], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    descendants: list[psutil.Process] = []
    try:
        for line in launcher.stdout:  # the banner comes once every server is up
            if "Press Ctrl-C" in line:
                break
        assert launcher.poll() is None, "trackside-run exited during start-up"
        wait_for(lambda: _serving(ports), timeout=60, what="the API, file server and web app to answer")
        descendants = psutil.Process(launcher.pid).children(recursive=True)
        listening = _listening_ports(descendants)
        assert set(ports.values()) <= listening, listening  # the API, file server and web app; Mongo, Valkey too
        assert len(listening) >= 5, listening

        killed_at = time.monotonic()
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(10)
        wait_for(lambda: not [port for port in listening if port_open("127.0.0.1", port)], timeout=30,
                 what="the launcher's servers to free their ports after it was killed")
        ports_freed_in = time.monotonic() - killed_at
        # The webhooks worker ends last (its health port with it): RQ's shutdown still tries the Valkey that
        # ended beside it, for seconds.
        wait_for(lambda: not [p for p in descendants if _alive(p)], timeout=30,
                 what="the launcher's servers to end after it was killed")
        print(f"after the SIGKILL: ports free in {ports_freed_in:.1f} s, "
              f"all {len(descendants)} descendants ended in {time.monotonic() - killed_at:.1f} s")
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        for process in descendants:  # only on failure: what the fix should have ended
            if _alive(process):
                process.kill()
