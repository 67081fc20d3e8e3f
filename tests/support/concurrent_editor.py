"""One editing process of the concurrent-edits test: THREADS threads, each editing its own items of one task.

Usage: concurrent_editor.py API_URL KEY SECRET TASK PROCESS_NUMBER THREADS ROUNDS. Every thread makes ROUNDS
rounds of edits, each of a different field, all of items no other thread touches (its own hyper-parameter,
property, configuration item, artifact, output model reference and tag) plus the task's comment, which
every thread overwrites. Prints one JSON object: ``{"calls": n, "refused": [[endpoint, code, subcode, msg]...]}``.
"""
from __future__ import annotations

import json
import sys
import threading

import requests


def edits(task: str, me: str, round_: int) -> list[tuple[str, dict]]:
    name = f"{me}_r{round_}"
    return [
        ("tasks.edit_hyper_params", {"task": task, "force": True, "hyperparams": [
            {"section": "Args", "name": f"p_{name}", "value": name, "type": "str"}]}),
        ("tasks.edit_hyper_params", {"task": task, "hyperparams": [
            {"section": "properties", "name": f"prop_{name}", "value": name}]}),
        ("tasks.edit", {"task": task, "force": True, "comment": f"comment by {name}"}),
        ("tasks.edit_configuration", {"task": task, "force": True, "configuration": [
            {"name": f"conf.{name}", "value": name, "type": "yaml"}]}),
        ("tasks.add_or_update_artifacts", {"task": task, "artifacts": [
            {"key": f"art_{name}", "type": "str", "uri": f"file:///{name}", "mode": "output"}]}),
        ("tasks.add_or_update_model", {"task": task, "type": "output", "name": f"model_{name}", "model": name}),
        ("tasks.update_tags", {"ids": [task], "add_tags": [f"tag_{name}"]}),
    ]


def main() -> None:
    url, key, secret, task, number, threads, rounds = sys.argv[1:8]
    token = requests.post(f"{url}/auth.login", auth=(key, secret), timeout=30).json()["data"]["token"]
    results: list[tuple[str, int, int, str]] = []
    calls = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        me = f"p{number}t{thread}"
        for round_ in range(int(rounds)):
            for name, body in edits(task, me, round_):
                meta = session.post(f"{url}/{name}", json=body, timeout=60).json()["meta"]
                with lock:
                    calls.append(name)
                    if meta["result_code"] != 200:
                        results.append((name, meta["result_code"], meta["result_subcode"], meta["result_msg"]))

    workers = [threading.Thread(target=work, args=(i,)) for i in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({"calls": len(calls), "refused": results}))


if __name__ == "__main__":
    main()
