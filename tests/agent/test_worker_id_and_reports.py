"""The worker id (configured exactly, else unique) and the status reporter's requests."""
from __future__ import annotations

import re
import socket
import threading

from trackside.agent.config import load_config
from trackside.agent.gpus import select_gpus
from trackside.agent.status_reporter import StatusReporter
from trackside.agent.worker_id import make_worker_id

CREDENTIALS = {"CLEARML_API_HOST": "http://127.0.0.1:1", "CLEARML_API_ACCESS_KEY": "k",
               "CLEARML_API_SECRET_KEY": "s"}


def config(tmp_path, text: str = "", **env):
    conf = tmp_path / "clearml.conf"
    conf.write_text(text)
    return load_config(conf, environ={**CREDENTIALS, **env})


def test_a_configured_worker_id_is_used_exactly(tmp_path):
    assert make_worker_id(config(tmp_path, 'agent { worker_id: "box:7" }'), select_gpus("0")) == "box:7"
    assert make_worker_id(config(tmp_path, CLEARML_WORKER_ID="env-id"), select_gpus(None, True)) == "env-id"


def test_default_worker_ids_name_the_host_and_gpus_and_never_repeat(tmp_path):
    plain = config(tmp_path)
    ids = {make_worker_id(plain, select_gpus("0,1")) for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(re.escape(socket.gethostname()) + r":gpu0,1:[0-9a-f]{8}", i) for i in ids)
    named = config(tmp_path, CLEARML_WORKER_NAME="trainer")
    assert re.fullmatch(r"trainer:cpu:[0-9a-f]{8}", make_worker_id(named, select_gpus(None, cpu_only=True)))


class Recorder:
    def __init__(self):
        self.reports, self.arrived = [], threading.Event()

    def __call__(self, endpoint, data):
        assert endpoint == "workers.status_report"
        self.reports.append(data)
        self.arrived.set()


class FixedStats:
    def sample(self):
        return {"cpu_usage": [1.0]}


def test_reports_carry_the_worker_queues_stats_and_the_running_task_and_come_at_once_on_request():
    call, running = Recorder(), {"task": None}
    reporter = StatusReporter(call, "w:cpu:1", ["q1", "q2"], lambda: (running["task"], "q2" if running["task"] else None),
                              FixedStats(), interval_sec=3600, tags=["gpu-box"]).start()
    try:
        assert call.arrived.wait(5)  # one report at start
        first = call.reports[0]
        assert first["worker"] == "w:cpu:1" and first["is_daemon"] is True and first["queues"] == ["q1", "q2"]
        assert first["machine_stats"] == {"cpu_usage": [1.0]} and first["tags"] == ["gpu-box"]
        assert "task" not in first and first["timestamp"] > 1e12  # milliseconds
        call.arrived.clear()
        running["task"] = "t1"
        reporter.report_now()  # a task started: no waiting for the interval
        assert call.arrived.wait(5)
        assert call.reports[-1]["task"] == "t1" and call.reports[-1]["queue"] == "q2"
    finally:
        reporter.stop()


def test_a_failing_server_is_logged_once_and_reports_continue(caplog):
    failures = []

    def failing(endpoint, data):
        failures.append(data)
        raise ConnectionRefusedError("connection refused")

    reporter = StatusReporter(failing, "w", ["q"], lambda: (None, None), None, interval_sec=3600)
    for _ in range(3):
        reporter.send()
    assert len(failures) == 3 and failures[0]["machine_stats"] is None
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "status report failed: connection refused (retrying every 3600 s)"]
