"""API workers killed with SIGKILL while clients write: the real clearml SDK reporting scalars, log lines and
plots from several processes, and a plain client sending log batches without retries of its own, while one
random gunicorn worker after another is killed. Gunicorn starts new workers; the clients resend what got no
answer. Read back through the API, every event is there exactly once: non-log events have ids derived from
what they are, and a log batch's lines from the batch's content and their place in it, so a resent batch
replaces what its first try stored.

The quick version runs in ``make test``; ``make stress-faults`` (TRACKSIDE_STRESS=full) runs the full one.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from support.client import ApiClient
from support.clients import CLIENTS_PYTHON, SCRIPTS, client_env
from support.faults import Outcomes, WorkerKiller, add_workers, all_events, duplicates
from support.names import unique
from support.suite import start_api

FULL = os.environ.get("TRACKSIDE_STRESS") == "full"
SDK_SIZE = dict(processes=3, iterations=600, pause=0.2, kills=30, timeout=900) if FULL else \
    dict(processes=2, iterations=300, pause=0.2, kills=4, timeout=180)
PLAIN_SIZE = dict(kills=15, lines=200) if FULL else dict(kills=3, lines=100)
WORKERS = 4
MAX_TRIES = 30  # per batch: past that the service is not coming back
SERIES = ("train", "validation", "test")  # tests/clients/sdk_fault_reporter.py's
PLOT_EVERY = 25
REPORTER = "sdk_fault_reporter.py"
LINE = re.compile(r"line \d+")


@pytest.fixture(scope="module")
def api_server(mongo_server, redis_server, tmp_path_factory):
    """An API of this module's own: its workers get killed."""
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("faults-api"), redis_port=redis_server.port)
    add_workers(server.process.pid, WORKERS - 2)  # start_api's 2, and more: kills every second or so
    yield server
    server.process.proc.send_signal(signal.SIGQUIT)  # gunicorn's quick stop: booting workers need not finish
    server.process.stop()


def _start_reporter(api_server, home: Path, project: str, name: str) -> subprocess.Popen:
    env = client_env(api_server.url, api_server.key, api_server.secret, home, thread_reporting=True)
    script = home / REPORTER
    script.write_bytes((SCRIPTS / REPORTER).read_bytes())  # outside this repository, like a user's script
    argv = [str(CLIENTS_PYTHON), str(script), project, name, str(SDK_SIZE["iterations"]), str(SDK_SIZE["pause"])]
    with open(home / "stderr.txt", "w") as stderr:  # read while it runs, and kept with the test's files
        return subprocess.Popen(argv, env=env, cwd=home, text=True, stdout=subprocess.PIPE, stderr=stderr)


def test_sdk_reports_survive_worker_kills(api_server, tmp_path):
    project, iterations = unique("faults-sdk"), SDK_SIZE["iterations"]
    killer = WorkerKiller(api_server.process.pid, api_server.process.port, every=(0.5, 1.0), seed=18,
                          max_kills=SDK_SIZE["kills"])
    killer.start()
    started = time.monotonic()
    reporters = []
    try:
        homes = [tmp_path / f"home{n}" for n in range(SDK_SIZE["processes"])]
        reporters = [_start_reporter(api_server, home, project, f"reporter-{n}") for n, home in enumerate(homes)]
        outputs = [(reporter.communicate(timeout=SDK_SIZE["timeout"])[0], (home / "stderr.txt").read_text())
                   for reporter, home in zip(reporters, homes)]
    finally:
        killer.stop()
        for reporter in reporters:
            if reporter.poll() is None:
                reporter.kill()
                reporter.wait()
    seconds = time.monotonic() - started
    for reporter, (stdout, stderr) in zip(reporters, outputs):
        assert reporter.returncode == 0, stderr[-3000:]
    retries = sum(stderr.count("Retrying") for _, stderr in outputs)
    tasks = [json.loads(stdout.strip().splitlines()[-1])["task_id"] for stdout, _ in outputs]

    api = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    totals, consoles = Counter(), []
    for task in tasks:
        events = all_events(api, task)
        by_type = Counter(e["type"] for e in events)
        scalars = Counter((e["variant"], e["iter"]) for e in events if e["type"] == "training_stats_scalar")
        # The SDK joins lines reported together into one event, and adds lines of its own.
        lines = Counter(line for e in events if e["type"] == "log" for line in e["msg"].splitlines()
                        if LINE.fullmatch(line))
        plots = Counter(e["iter"] for e in events if e["type"] == "plot")
        assert not duplicates(scalars) and not duplicates(lines) and not duplicates(plots)
        assert set(scalars) == {(series, i) for series in SERIES for i in range(iterations)}
        assert set(lines) == {f"line {i}" for i in range(iterations)}
        assert set(plots) == set(range(0, iterations, PLOT_EVERY))
        consoles.append(api.ok("events.get_task_log", task=task, batch_size=1)["total"])  # see the next test
        totals.update(by_type)
    print("\nsdk under worker kills:", json.dumps({
        "sdk_processes": len(tasks), "worker_kills": len(killer.kills), "mid_request_kills": killer.busy_kills,
        "sdk_retries_logged": retries,
        "events": dict(totals), "lost": 0, "duplicated": 0, "console_totals": consoles,
        "seconds": round(seconds, 1)}))
    assert len(killer.kills) >= 3


def test_log_batches_resent_after_a_killed_worker_are_stored_once(api_server):
    """A client without retries of its own sees a killed worker's request as no answer at all (never a
    success it did not get, never a 5xx); resending the same batch until it is answered stores each line once."""
    api = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    task = api.ok("tasks.create", name=unique("faults-log"), type="training")["id"]
    outcomes, resent = Outcomes(), Counter()

    def send(batch: int) -> None:
        lines = [{"type": "log", "task": task, "level": "info", "msg": f"batch {batch} line {n}",
                  "timestamp": 1_700_000_000_000 + batch} for n in range(PLAIN_SIZE["lines"])]
        body = "\n".join(json.dumps(line) for line in lines)
        for _ in range(MAX_TRIES):
            resp = outcomes.call(api, "events.add_batch", body)
            if resp is not None and resp.status_code == 200:
                return
            assert resp is None or resp.status_code in (502, 503), resp.text[:2000]
            resent[batch] += 1
        raise AssertionError(f"batch {batch} got no answer in {MAX_TRIES} tries: {dict(outcomes.counts)}")

    warm = time.monotonic()
    send(0)  # before any kill: what one batch takes
    warm = time.monotonic() - warm
    killer = WorkerKiller(api_server.process.pid, api_server.process.port, every=(0.3, 1.0), seed=4)
    killer.start()
    batches = 1
    try:
        while len(killer.kills) < PLAIN_SIZE["kills"] or not resent:  # some killed worker had a batch
            assert batches < 5000, f"{batches} batches and no kill during one: {dict(outcomes.counts)}"
            send(batches)
            batches += 1
    finally:
        killer.stop()
    stored = Counter(e["msg"] for e in all_events(api, task) if e["type"] == "log")
    expected = batches * PLAIN_SIZE["lines"]
    print("\nlog batches under worker kills:", json.dumps({
        "batches": batches, "lines": expected, "one_batch_sec": round(warm, 2), "worker_kills": len(killer.kills),
        "mid_request_kills": killer.busy_kills,
        "outcomes": dict(outcomes.counts), "batches_resent": len(resent), "stored": sum(stored.values()),
        "duplicated": sum(count - 1 for count in stored.values() if count > 1),
        # A resent batch gets its first try's console positions (LogNumbering.reserve), so no gap either.
        "console_total": api.ok("events.get_task_log", task=task, batch_size=1)["total"]}))
    assert set(outcomes.counts) <= {"ok", "no answer"}
    assert api.ok("events.get_task_log", task=task, batch_size=1)["total"] == expected
    assert not duplicates(stored) and sum(stored.values()) == expected
