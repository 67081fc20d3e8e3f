"""One subscribed agent for the dispatch stress test, run as its own process (and killed with SIGKILL).

It claims through ``trackside.shared.dispatch.subscriber``, starts each task with its lease, "works" a few
milliseconds and completes it, appending one JSON line per event to its log (written and flushed before the
next step, so a kill loses at most the event in flight):

    {"e": "claim", "task", "queue", "sent", "recv", "order"}   sent/recv: time around the claim call
    {"e": "start", "task"} | {"e": "lost", "task"} | {"e": "done", "task"}
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time

from trackside.shared.dispatch.client import ApiSession
from trackside.shared.dispatch.subscriber import LeaseLost, Subscriber


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--api"), parser.add_argument("--key"), parser.add_argument("--secret")
    parser.add_argument("--worker"), parser.add_argument("--queues"), parser.add_argument("--log")
    parser.add_argument("--fair", action="store_true")
    parser.add_argument("--work-ms", type=float, default=5.0)
    # Die (SIGKILL) right after a claim with this probability: the crash between claim and start, on purpose.
    parser.add_argument("--die-after-claim", type=float, default=0.0)
    args = parser.parse_args()
    log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def record(event: str, **fields) -> None:
        os.write(log_fd, (json.dumps({"e": event, "w": args.worker, **fields}) + "\n").encode())

    session = ApiSession(args.api, args.key, args.secret)

    def call(endpoint: str, data: dict):
        if endpoint != "dispatch.claim":
            return session.call(endpoint, data)
        sent = time.time()
        reply = session.call(endpoint, data)
        if reply.get("entry"):
            record("claim", task=reply["entry"]["task"], queue=reply["queue"], sent=sent, recv=time.time(),
                   order=data["queues"])
        return reply

    subscriber = Subscriber(call, args.worker, args.queues.split(","), order_fairness=args.fair)
    signal.signal(signal.SIGTERM, lambda *_: subscriber.stop())
    for claimed in subscriber.claims():
        if random.random() < args.die_after_claim:
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            subscriber.start(claimed, status_message=args.worker)
        except LeaseLost:
            record("lost", task=claimed.task)
            continue
        record("start", task=claimed.task)
        time.sleep(random.uniform(0, 2 * args.work_ms) / 1000)
        session.call("tasks.completed", {"task": claimed.task, "force": True})
        record("done", task=claimed.task)
    subscriber.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
