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


def _name(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()[:4])[-80:]
    except psutil.NoSuchProcess:
        return "?"


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
        names = {p.pid: _name(p) for p in descendants}
        stores = [p for p in descendants if "valkey" in names[p.pid] or "secantus" in names[p.pid]]
        served = set(ports.values()) | _listening_ports(stores)  # the API, file server, web app, Mongo, Valkey
        assert len(served) == 5 and served <= _listening_ports(descendants), served

        killed_at = time.monotonic()
        launcher.send_signal(signal.SIGKILL)
        launcher.wait(10)
        ended: dict[int, float] = {}

        def all_ended() -> bool:
            ended.update({p.pid: time.monotonic() - killed_at for p in descendants
                          if p.pid not in ended and not _alive(p)})
            return len(ended) == len(descendants)

        try:
            # About 3 s (the stores outlive the services by that much); longer where a service was busy with
            # a store when it went (a watchdog pass waits out pymongo's server selection).
            wait_for(all_ended, timeout=30, what="the launcher's servers to end after it was killed")
        finally:
            last = sorted(ended.items(), key=lambda item: item[1])[-3:]
            print(f"after the SIGKILL: {len(ended)} of {len(descendants)} descendants ended, the last: "
                  + ", ".join(f"{names[pid]} {sec:.1f} s" for pid, sec in last)
                  + "; still running: " + ", ".join(names[p.pid] for p in descendants if p.pid not in ended))
        assert not [port for port in served if port_open("127.0.0.1", port)]
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        for process in descendants:  # only on failure: what the fix should have ended
            if _alive(process):
                process.kill()
