"""One process of the project-counters concurrency test: THREADS threads, each driving every task of the list
through a random mix of status changes, archiving, moves and clones (tasks shared with the other processes,
so transitions race: refusals are expected and ignored, the counters must still add up).

Usage: counter_workload.py API_URL KEY SECRET SEED THREADS ROUNDS PROJECT_IDS(comma) TASK_IDS(comma)
Prints one JSON object: ``{"calls": n, "errors": [[endpoint, code, subcode]...]}`` (errors other than 400s).
"""
from __future__ import annotations

import json
import random
import sys
import threading

import requests


def actions(rng: random.Random, task: str, projects: list[str]) -> list[tuple[str, dict]]:
    return rng.choice([
        [("tasks.enqueue", {"task": task, "queue_name": "counters"})],
        [("tasks.started", {"task": task, "force": True})],
        [("tasks.stopped", {"task": task, "force": True})],
        [("tasks.completed", {"task": task, "force": True})],
        [("tasks.failed", {"task": task, "force": True})],
        [("tasks.reset", {"task": task, "force": True})],
        [("tasks.publish", {"task": task, "force": True})],
        [("tasks.archive", {"tasks": [task]})],
        [("tasks.unarchive_many", {"ids": [task]})],
        [("tasks.move", {"ids": [task], "project": rng.choice(projects)})],
        [("tasks.update", {"task": task, "system_tags": rng.choice([[], ["pipeline"], ["archived", "dataset"]])})],
        [("tasks.dequeue", {"task": task})],
        [("tasks.clone", {"task": task, "new_task_name": "clone"})],
    ])


def main() -> None:
    url, key, secret, seed, threads, rounds, projects, tasks = sys.argv[1:9]
    projects_l, tasks_l = projects.split(","), tasks.split(",")
    token = requests.post(f"{url}/auth.login", auth=(key, secret), timeout=30).json()["data"]["token"]
    errors: list[tuple[str, int, int]] = []
    calls = []
    lock = threading.Lock()

    def work(n: int) -> None:
        rng = random.Random(f"{seed}-{n}")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        for _ in range(int(rounds)):
            for endpoint, body in actions(rng, rng.choice(tasks_l), projects_l):
                meta = session.post(f"{url}/{endpoint}", json=body, timeout=60).json()["meta"]
                with lock:
                    calls.append(endpoint)
                    if meta["result_code"] >= 500:
                        errors.append((endpoint, meta["result_code"], meta["result_subcode"]))

    workers = [threading.Thread(target=work, args=(n,)) for n in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({"calls": len(calls), "errors": errors}))


if __name__ == "__main__":
    main()
