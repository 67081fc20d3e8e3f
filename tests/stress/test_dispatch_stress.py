"""Dispatch under fire: real subscriber processes claim tasks from three queues while some are killed with
SIGKILL and Redis restarts once. Every task must be started exactly once and none lost, and the claims must
keep queue order and strict priority.

The quick version runs in ``make test``; ``make stress-dispatch`` (TRACKSIDE_STRESS=full) runs the full one:
1000 tasks, 12 subscribers.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.client import ApiClient
from support.dispatch import start_dispatch_stack
from support.names import unique
from support.objects import create_queue

FULL = os.environ.get("TRACKSIDE_STRESS") == "full"
SIZE = dict(tasks=1000, subscribers=12, kills=8, seconds=240) if FULL else dict(tasks=150, subscribers=10, kills=3,
                                                                                 seconds=90)
LEASE_SEC = 3
SUBSCRIBER = str(Path(__file__).with_name("subscriber_proc.py"))
RETURNED = re.compile(r"lease on task ([0-9a-f]{32}) expired")


@pytest.fixture(scope="module")
def stack(mongo_server, tmp_path_factory):
    stack = start_dispatch_stack(mongo_server.port, tmp_path_factory.mktemp("stress"),
                                 extra_env={"CLEARML__SERVICES__QUEUES__DISPATCH__LEASE_SEC": str(LEASE_SEC)})
    yield stack
    stack.stop()


@dataclass
class Fleet:
    """The subscriber processes: started, killed and replaced; each writes its own event log."""
    stack: object
    queues: list[str]
    log_dir: Path
    procs: dict = field(default_factory=dict)  # worker -> (Popen, fair)
    killed: list = field(default_factory=list)
    counter: itertools.count = field(default_factory=itertools.count)

    def spawn(self, fair: bool = False, die_after_claim: float = 0.0) -> str:
        worker = f"stress-{next(self.counter)}"
        api = self.stack.api
        argv = [sys.executable, SUBSCRIBER, f"--api={api.url}", f"--key={api.key}", f"--secret={api.secret}",
                f"--worker={worker}", f"--queues={','.join(self.queues)}", f"--log={self.log_dir / worker}.jsonl",
                f"--die-after-claim={die_after_claim}"] + (["--fair"] if fair else [])
        with open(self.log_dir / f"{worker}.err", "wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        self.procs[worker] = (proc, fair, die_after_claim)
        return worker

    def kill_one(self) -> None:
        worker = random.choice([w for w, (p, _, _) in self.procs.items() if p.poll() is None])
        os.kill(self.procs[worker][0].pid, signal.SIGKILL)
        self.procs[worker][0].wait()
        self.replace_dead()

    def replace_dead(self) -> None:
        """Every subscriber that died (killed, or killed itself after a claim) is replaced by a new one."""
        for worker, (proc, fair, die_after_claim) in list(self.procs.items()):
            if proc.poll() is not None and worker not in self.killed:
                assert proc.returncode == -signal.SIGKILL, (self.log_dir / f"{worker}.err").read_text()[-2000:]
                self.killed.append(worker)
                self.spawn(fair, die_after_claim)

    def stop(self) -> None:
        for proc, _, _ in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _, _ in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def events(self) -> list[dict]:
        found = []
        for path in self.log_dir.glob("*.jsonl"):
            for line in path.read_text().splitlines():
                try:
                    found.append(json.loads(line))
                except ValueError:
                    pass  # a line cut by SIGKILL
        return found


def test_dispatch_under_kills_and_a_redis_restart(stack, tmp_path):
    api = ApiClient(stack.api.url, stack.api.key, stack.api.secret).login()
    queues = [create_queue(api, unique(f"stress-{level}")) for level in ("high", "mid", "low")]
    tasks = [api.ok("tasks.create", name=unique("stress"), type="training")["id"] for _ in range(SIZE["tasks"])]
    plan = [(task, random.choices(queues, weights=(1, 2, 3))[0]) for task in tasks]

    enqueued: dict[str, tuple[str, int, float]] = {}  # task -> (queue, position in its queue, enqueued at)
    positions = Counter()

    def enqueue(part: list[tuple[str, str]]) -> None:
        enqueuer = ApiClient(stack.api.url, stack.api.key, stack.api.secret).login()
        for task, queue in part:
            enqueuer.ok("tasks.enqueue", task=task, queue=queue)
            enqueued[task] = (queue, positions[queue], time.time())
            positions[queue] += 1

    # Half is waiting before the first subscriber starts (a backlog in every queue for priority to matter),
    # the rest arrives while they work.
    enqueue(plan[:len(plan) // 2])
    fleet = Fleet(stack, queues, tmp_path)
    started_at = time.monotonic()
    for number in range(SIZE["subscribers"]):
        # A quarter use --order-fairness; two die now and then between a claim and its start.
        fleet.spawn(fair=number % 4 == 3, die_after_claim=0.1 if number in (0, 5) else 0.0)
    enqueuer = threading.Thread(target=enqueue, args=(plan[len(plan) // 2:],))
    enqueuer.start()

    def chaos() -> None:
        kills_before_restart = SIZE["kills"] // 2
        for number in range(SIZE["kills"]):
            time.sleep(random.uniform(0.3, 1.0))
            fleet.kill_one()
            fleet.replace_dead()
            if number + 1 == kills_before_restart:
                stack.restart_redis(down_sec=1.0)

    chaos_thread = threading.Thread(target=chaos)
    chaos_thread.start()
    try:
        enqueuer.join()
        chaos_thread.join()
        deadline = started_at + SIZE["seconds"]
        while _unfinished(api, tasks):
            assert time.monotonic() < deadline, f"tasks still waiting: {len(_unfinished(api, tasks))}"
            fleet.replace_dead()
            time.sleep(0.5)
    finally:
        fleet.stop()
    elapsed = time.monotonic() - started_at

    events = fleet.events()
    returned = set(RETURNED.findall((stack.work_dir / "watchdog.log").read_text(errors="replace")))
    report = _verify(api, tasks, enqueued, events, returned, fleet)
    report.update(tasks=len(tasks), subscribers=SIZE["subscribers"], killed=len(fleet.killed), redis_restarts=1,
                  seconds=round(elapsed, 1), tasks_per_sec=round(len(tasks) / elapsed, 1))
    print("\ndispatch stress:", json.dumps(report))


def _unfinished(api, tasks: list[str]) -> list[str]:
    waiting = []
    for chunk in range(0, len(tasks), 500):
        waiting += [t["id"] for t in api.ok("tasks.get_all", id=tasks[chunk:chunk + 500], status=["queued", "created"],
                                            only_fields=["id"], page_size=500)["tasks"]]
    return waiting


def _verify(api, tasks, enqueued, events, returned, fleet) -> dict:
    status = {}
    for chunk in range(0, len(tasks), 500):
        for task in api.ok("tasks.get_all", id=tasks[chunk:chunk + 500], only_fields=["id", "status"],
                           page_size=500)["tasks"]:
            status[task["id"]] = task["status"]
    by_kind = defaultdict(list)
    for event in events:
        by_kind[event["e"]].append(event)
    starts = Counter(e["task"] for e in by_kind["start"])
    done = Counter(e["task"] for e in by_kind["done"])
    claims = defaultdict(list)
    for event in by_kind["claim"]:
        claims[event["task"]].append(event)

    # None lost: every task ran to the end, or is running under an agent that was killed (the watchdog's).
    assert set(status) == set(tasks)
    running = [t for t, s in status.items() if s == "in_progress"]
    assert all(s in ("completed", "in_progress") for s in status.values()), Counter(status.values())
    assert len(running) <= len(fleet.killed), running
    # Exactly once: no task started twice, none completed twice; a refused start (lost lease) never ran.
    assert max(starts.values(), default=0) == 1 and max(done.values(), default=0) == 1
    assert all(status[t] == "completed" for t in done)

    # Order: two claims from one queue that did not overlap in time took entries in queue order. Tasks that
    # went back to their queue (lease returned, or claimed twice) are left out.
    settled = {t for t, c in claims.items() if len(c) == 1 and t not in returned}
    first_claims = [c[0] for t, c in claims.items() if t in settled]
    per_queue = defaultdict(list)
    for claim in first_claims:
        per_queue[claim["queue"]].append(claim)
    inversions = 0
    for queue_claims in per_queue.values():
        queue_claims.sort(key=lambda c: c["recv"])
        for i, earlier in enumerate(queue_claims):
            for later in queue_claims[i + 1:]:
                if earlier["recv"] < later["sent"] and enqueued[earlier["task"]][1] > enqueued[later["task"]][1]:
                    inversions += 1
    assert inversions == 0

    # Strict priority: a strict subscriber's claim from a lower queue never happened while a task sat in a
    # higher one for the whole claim (enqueued before it was sent, first claimed after it returned).
    fair_workers = {w for w, (_, fair, _) in fleet.procs.items() if fair}
    first_claim_sent = {t: min(c["sent"] for c in cs) for t, cs in claims.items()}
    queue_rank = {q: i for i, q in enumerate(fleet.queues)}
    waiting_by_queue = defaultdict(list)
    for task, (queue, _, at) in enqueued.items():
        if task in settled:
            waiting_by_queue[queue].append((at, first_claim_sent.get(task, float("inf"))))
    priority_violations = 0
    for claim in first_claims:
        if claim["w"] in fair_workers:
            continue
        for queue in fleet.queues[:queue_rank[claim["queue"]]]:
            priority_violations += sum(1 for at, taken in waiting_by_queue[queue]
                                       if at < claim["sent"] and taken > claim["recv"])
    assert priority_violations == 0
    # How much the checks had to bite on: claims made while other tasks were waiting in some queue.
    waiting_all = [w for waits in waiting_by_queue.values() for w in waits]
    contended = sum(1 for claim in first_claims
                    if any(at < claim["sent"] and taken > claim["recv"] for at, taken in waiting_all))
    return {"claims_with_a_backlog": contended,"completed": sum(1 for s in status.values() if s == "completed"), "left_running_by_killed": len(running),
            "claims": len(by_kind["claim"]), "lost_leases": len(by_kind["lost"]), "leases_returned": len(returned),
            "order_pairs_checked": sum(len(q) * (len(q) - 1) // 2 for q in per_queue.values())}
