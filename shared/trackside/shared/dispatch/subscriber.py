"""Subscribe to queues: block on their Redis streams and claim work through the API the moment it arrives.

    session = ApiSession(api_url, key, secret)
    subscriber = Subscriber(session.call, worker="gpu-box:0", queues=[high_id, low_id])
    for claimed in subscriber.claims():            # blocks; one claimed task at a time
        subscriber.start(claimed)                   # dispatch.start: refused if the lease was lost
        run(claimed.task)                           # the next iteration claims again before blocking

Only ``redis`` and the standard library are needed. ``call(endpoint, data) -> data`` is any authenticated
API call (``client.ApiSession.call``, or the agent's own session); the subscriber gets its Redis address,
ACL user and stream names from ``dispatch.subscribe``, so an agent needs nothing but its API credentials.

The loop (ARCHITECTURE.md, "Dispatch design"): drain (claim until nothing is left), then block in
``XREADGROUP`` over every queue's stream; a token means "look", so it is answered with a claim over all
the queues in priority order and then acknowledged. Redis restarts, flushes and refused credentials are
survived by reconnecting with back-off, recreating the groups and draining again.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import redis

log = logging.getLogger(__name__)
ApiCall = Callable[[str, dict], Any]
# Claim even without a token after this long idle: a safety net under the reconcile, one call a minute.
IDLE_CLAIM_SEC = 60.0
BACKOFF_MIN_SEC, BACKOFF_MAX_SEC = 0.1, 5.0


@dataclass(frozen=True)
class ClaimedTask:
    task: str
    queue: str
    entry: dict
    lease: str
    expires: str | None = None


class LeaseLost(Exception):
    """The lease on a claimed task expired and the task went back to its queue: do not run it."""


class Subscriber:
    def __init__(self, call: ApiCall, worker: str, queues: Sequence[str], *, order_fairness: bool = False,
                 schedule_active: Callable[[], bool] | None = None, consumer: str | None = None,
                 idle_claim_sec: float = IDLE_CLAIM_SEC,
                 queue_filter: Callable[[list[str]], list[str]] | None = None):
        if not queues:
            raise ValueError("subscribe to at least one queue")
        self.call = call
        self.worker = worker
        self.queues = list(queues)
        self.order_fairness = order_fairness
        self.schedule_active = schedule_active or (lambda: True)
        # The queues this worker can take from right now, in priority order (dynamic GPUs: only the queues
        # whose GPU count is free); an empty list makes a claim a no-op.
        self.queue_filter = queue_filter or (lambda queues: queues)
        # Unique per process, so two agents that share a worker name never share a consumer.
        self.consumer = consumer or f"{worker}:{uuid.uuid4().hex[:8]}"
        self.idle_claim_sec = idle_claim_sec
        self._order = list(self.queues)
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._redis: redis.Redis | None = None
        self._streams: dict[str, str] = {}  # stream key -> queue id
        self._group = "agents"
        self._block_ms = 5000
        self._backoff = BACKOFF_MIN_SEC

    # -- the public surface ----------------------------------------------------------------------------
    def claims(self) -> Iterator[ClaimedTask]:
        """Claimed tasks, one at a time, as they arrive; returns after ``stop()``."""
        drain, last_claim = True, time.monotonic()
        while not self._stopping.is_set():
            try:
                if self._redis is None:
                    self._connect()
                    drain = True
                if drain or self._wake.is_set() or time.monotonic() - last_claim > self.idle_claim_sec:
                    self._wake.clear()
                    claimed, last_claim = self._claim([]), time.monotonic()
                    if claimed:
                        yield claimed
                        continue  # drain: claim again before blocking
                    drain = False
                tokens = self._wait_for_tokens()
                if not tokens:
                    continue
                try:
                    claimed, last_claim = self._claim([queue for queue, _, _ in tokens]), time.monotonic()
                finally:
                    self._ack(tokens)  # answered or not, a token never stays pending on a live consumer
                self._backoff = BACKOFF_MIN_SEC
                if claimed:
                    drain = True
                    yield claimed
            except redis.ResponseError as exc:
                drain = True
                if "NOGROUP" in str(exc):
                    self._ensure_groups()  # a flush or restart removed them
                    continue
                self._lost_redis(exc)  # NOPERM, WRONGPASS...: ask for the subscription again
            except redis.RedisError as exc:
                drain = True
                self._lost_redis(exc)
            except Exception as exc:  # the API is unreachable or failing: try again later
                drain = True
                log.warning("subscriber %s: %s; retrying", self.consumer, exc)
                self._sleep_backoff()

    def start(self, claimed: ClaimedTask, status_reason: str | None = None, status_message: str | None = None) -> dict:
        """Start a claimed task (``dispatch.start``); LeaseLost when its lease expired and it went back."""
        try:
            return self.call("dispatch.start", {"task": claimed.task, "lease": claimed.lease,
                                                "status_reason": status_reason, "status_message": status_message})
        except Exception as exc:
            if getattr(exc, "code", None) == 400 and getattr(exc, "subcode", None) == 121:
                raise LeaseLost(claimed.task) from exc
            raise

    def release(self, claimed: ClaimedTask) -> None:
        """Give a claimed task back (to the head of its queue) without running it."""
        self.call("dispatch.release", {"task": claimed.task, "lease": claimed.lease})

    def wake(self) -> None:
        """Claim again before the next block: what this worker may take has changed (GPUs freed, the
        schedule opened, a force flag set) and tokens answered earlier will not come back. A blocked wait
        sees it within ``block_ms``."""
        self._wake.set()

    def stop(self) -> None:
        """Make ``claims()`` return; a blocked wait ends within ``block_ms``."""
        self._stopping.set()

    def close(self) -> None:
        self.stop()
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    # -- Redis -----------------------------------------------------------------------------------------
    def _connect(self) -> None:
        params = self.call("dispatch.subscribe", {"worker": self.worker, "queues": self.queues})
        settings = params["redis"]
        self._group = params["group"]
        self._block_ms = int(params.get("block_ms") or 5000)
        self._streams = {item["stream"]: item["queue"] for item in params["streams"]}
        self._redis = redis.Redis(
            host=settings["host"], port=int(settings["port"]), db=int(settings.get("db") or 0),
            username=settings.get("username") or None, password=settings.get("password") or None,
            decode_responses=True, socket_connect_timeout=5, socket_timeout=self._block_ms / 1000 + 10,
        )
        self._ensure_groups()
        log.info("subscriber %s: subscribed to %d queue(s)", self.consumer, len(self._streams))

    def _ensure_groups(self) -> None:
        for key in self._streams:
            try:
                self._redis.xgroup_create(key, self._group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def _wait_for_tokens(self) -> list[tuple[str, str, str]]:
        """``[(queue, stream, token id)]`` delivered to this consumer, after at most ``block_ms``."""
        replies = self._redis.xreadgroup(self._group, self.consumer, {key: ">" for key in self._streams},
                                         count=1, block=self._block_ms)
        return [(self._streams.get(key, ""), key, token_id) for key, messages in replies or [] for token_id, _ in messages]

    def _ack(self, tokens: list[tuple[str, str, str]]) -> None:
        for _, key, token_id in tokens:
            self._redis.xack(key, self._group, token_id)

    def _lost_redis(self, exc: Exception) -> None:
        log.warning("subscriber %s: Redis: %s; reconnecting", self.consumer, exc)
        if self._redis is not None:
            self._redis.close()
        self._redis = None
        self._sleep_backoff()

    def _sleep_backoff(self) -> None:
        self._stopping.wait(random.uniform(0.5, 1.0) * self._backoff)
        self._backoff = min(BACKOFF_MAX_SEC, self._backoff * 2)

    # -- claims ----------------------------------------------------------------------------------------
    def _claim(self, token_queues: list[str]) -> ClaimedTask | None:
        queues = self.queue_filter(list(self._order))
        if not queues:
            return None
        reply = self.call("dispatch.claim", {
            "worker": self.worker, "queues": queues, "schedule_active": bool(self.schedule_active()),
            "tokens": [queue for queue in token_queues if queue],
        })
        entry = (reply or {}).get("entry")
        if not entry:
            return None
        queue = reply["queue"]
        if self.order_fairness and queue in self._order:
            at = self._order.index(queue)
            self._order = self._order[at + 1:] + self._order[:at + 1]
        lease = reply.get("lease") or {}
        return ClaimedTask(task=entry["task"], queue=queue, entry=entry, lease=lease.get("id", ""),
                           expires=lease.get("expires"))
