"""One client process of the events ingestion stress test: reports scalars and log lines for several tasks at
once through ``events.add_batch``, as the SDK sends them (json lines, GET /v2.23), without retrying, so that
every refused or short batch is counted as a client error.

Each task gets ``--streams`` concurrent senders (the SDK's metrics and console reporters), so batches of one task
race each other for log line positions. Stream ``s`` reports metric ``m<s>`` (``--variants`` variants, consecutive
iterations) and log lines ``<task> <s> <batch> <n>``. Prints one JSON line: sent events, errors, seconds.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

JSON_LINES = {"Content-Type": "application/json-lines"}
T0 = int(time.time() * 1000) - 3_600_000


def batch(task: str, stream: int, number: int, scalars: int, logs: int, variants: int) -> list[dict]:
    events = []
    first_iteration = number * (scalars // variants)
    for n in range(scalars):
        iteration = first_iteration + n // variants
        events.append({"type": "training_stats_scalar", "task": task, "metric": f"m{stream}",
                       "variant": f"v{n % variants}", "iter": iteration, "value": float(iteration % 97),
                       "timestamp": T0 + iteration, "method": "get"})
    for n in range(logs):
        events.append({"type": "log", "task": task, "level": "info", "msg": f"{task} {stream} {number} {n}",
                       "timestamp": T0 + number * 1000 + n, "iter": number, "method": "get"})
    return events


def login(api: str, key: str, secret: str) -> str:
    reply = requests.get(f"{api}/auth.login", auth=(key, secret), timeout=60)
    reply.raise_for_status()
    return reply.json()["data"]["token"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--tasks", required=True, help="comma-separated task ids")
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--scalars", type=int, default=40)
    parser.add_argument("--logs", type=int, default=10)
    parser.add_argument("--variants", type=int, default=4)
    args = parser.parse_args()

    token = login(args.api, args.key, args.secret)
    tasks = args.tasks.split(",")
    errors: list[str] = []
    sent = [0]
    lock = threading.Lock()
    local = threading.local()

    def report(task: str, stream: int) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        headers = {**JSON_LINES, "Authorization": f"Bearer {token}"}
        for number in range(args.batches):
            events = batch(task, stream, number, args.scalars, args.logs, args.variants)
            body = "\n".join(json.dumps(event) for event in events)
            try:
                resp = session.get(f"{args.api}/v2.23/events.add_batch", data=body, headers=headers, timeout=120)
                data = resp.json().get("data") or {}
                problem = None if resp.status_code == 200 and data.get("added") == len(events) and not data.get(
                    "errors") else f"HTTP {resp.status_code}: {resp.text[:300]}"
            except (requests.RequestException, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            with lock:
                if problem:
                    errors.append(f"{task}/{stream}/{number}: {problem}")
                else:
                    sent[0] += len(events)

    started = time.monotonic()
    with ThreadPoolExecutor(len(tasks) * args.streams) as pool:
        for future in [pool.submit(report, task, stream) for task in tasks for stream in range(args.streams)]:
            future.result()
    print(json.dumps({"sent": sent[0], "errors": errors, "seconds": time.monotonic() - started}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
