"""A dispatch stack for tests: its own Valkey (restartable on the same port), an API on the session's Mongo-wire
server and a watchdog, with short leases and reconcile intervals; plus subscribers running in threads."""
from __future__ import annotations

import queue
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import redis

from support.suite import ApiServer, redis_admin, start_api, start_redis, stop_together
from trackside.shared.dispatch.client import ApiSession
from trackside.shared.dispatch.subscriber import ClaimedTask, Subscriber
from trackside.shared.embedded.process import ServerProcess

FAST_DISPATCH = {
    "CLEARML__SERVICES__QUEUES__DISPATCH__LEASE_SEC": "2",
    "CLEARML__SERVICES__QUEUES__DISPATCH__RECONCILE_INTERVAL_SEC": "0.5",
    "CLEARML__SERVICES__QUEUES__DISPATCH__CONSUMER_TIMEOUT_SEC": "3",
    "CLEARML__SERVICES__QUEUES__DISPATCH__BLOCK_MS": "1000",
}


def start_watchdog(env: dict, work_dir: Path) -> ServerProcess:
    log_path = work_dir / "watchdog.log"
    return ServerProcess(
        "watchdog", [sys.executable, "-m", "trackside.watchdog"], env=env, log_path=log_path,
        ready=lambda: log_path.exists() and "watchdog started" in log_path.read_text(errors="replace"),
    ).start(timeout=30)


@dataclass
class DispatchStack:
    api: ApiServer
    redis: ServerProcess
    watchdog: ServerProcess | None
    work_dir: Path
    sessions: list = field(default_factory=list)

    def admin(self) -> redis.Redis:
        return redis_admin(self.redis.port)

    def session(self) -> ApiSession:
        session = ApiSession(self.api.url, self.api.key, self.api.secret)
        self.sessions.append(session)
        return session

    def restart_redis(self, down_sec: float = 0.0) -> None:
        """Stop Valkey (its data is gone: no persistence), optionally stay down a while, start it again."""
        self.redis.stop()
        if down_sec:
            threading.Event().wait(down_sec)
        self.redis.start(timeout=30)

    def stop(self) -> None:
        for session in self.sessions:
            session.close()
        stop_together([p for p in (self.watchdog, self.api.process) if p])  # together, then their store
        self.redis.stop()


def start_dispatch_stack(mongo_port: int, work_dir: Path, extra_env: dict | None = None,
                         watchdog: bool = True) -> DispatchStack:
    redis_server = start_redis(work_dir / "redis")
    api = start_api(mongo_port, work_dir / "api", redis_port=redis_server.port,
                    extra_env={**FAST_DISPATCH, **(extra_env or {})})
    dog = start_watchdog(api.env, work_dir) if watchdog else None
    return DispatchStack(api, redis_server, dog, work_dir)


class SubscriberThread:
    """A Subscriber in a thread: claimed tasks arrive on ``claimed`` (and are not started unless ``start``)."""

    def __init__(self, stack: DispatchStack, worker: str, queues: list[str], start: bool = False, **options):
        self.session = stack.session()
        self.subscriber = Subscriber(self.session.call, worker, queues, **options)
        self.claimed: "queue.Queue[ClaimedTask]" = queue.Queue()
        self.start_tasks = start
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for claimed in self.subscriber.claims():
            if self.start_tasks:
                self.subscriber.start(claimed)
            self.claimed.put(claimed)

    def next(self, timeout: float = 10.0) -> ClaimedTask:
        return self.claimed.get(timeout=timeout)

    def nothing_within(self, seconds: float) -> bool:
        try:
            self.claimed.get(timeout=seconds)
            return False
        except queue.Empty:
            return True

    def stop(self) -> None:
        self.subscriber.stop()
        self.thread.join(15)
        self.subscriber.close()
