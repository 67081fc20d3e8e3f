"""The live worker registry in Redis: who is alive, what it listens to and runs, and its runtime properties.

A worker is alive while its record key exists: every ``register`` and ``status_report`` rewrites it with a
TTL of the worker's timeout (``services.workers.default_worker_timeout_sec``), so a silent agent disappears
on its own, with no sweeper. Keys, all under ``trackside:workers:<company>:``:

- ``w:<worker>``               the record (JSON), TTL = timeout;
- ``all``                      sorted set of worker ids scored by record expiry: lists workers without SCAN;
- ``q:<queue>``                sorted set of the workers listening on a queue, scored the same way;
- ``p:<len(worker)>:<worker>:<key>``  one runtime property value, TTL = its expiry (none: kept until
  replaced); the length keeps worker ids with colons (``vm:0``) apart from the property key;
- ``pk:<worker>``              set of the property keys a worker has, pruned of expired ones on read;
- ``gone:<worker>``            set by ``unregister`` for a few seconds: a report after it does not register
  the worker again (only ``register`` does).

The sorted sets are indexes only: a member whose record has expired is ignored and pruned on read.
"""
from __future__ import annotations

import json
import time
from typing import Iterable

import redis

from trackside.shared import live_workers
from trackside.shared.live_workers import PREFIX

# How long an unregistered worker's late status reports are ignored rather than registering it again.
UNREGISTERED_GRACE_SEC = 10


def _now() -> float:
    return time.time()


class WorkerRegistry:
    def __init__(self, client: redis.Redis):
        self.redis = client

    # -- keys --------------------------------------------------------------------------------------------
    @staticmethod
    def record_key(company: str, worker: str) -> str:
        return live_workers.record_key(company, worker)  # the watchdog reads these too

    @staticmethod
    def _all_key(company: str) -> str:
        return live_workers.all_key(company)

    @staticmethod
    def _queue_key(company: str, queue: str) -> str:
        return f"{PREFIX}:{company}:q:{queue}"

    @staticmethod
    def _property_key(company: str, worker: str, key: str) -> str:
        return f"{PREFIX}:{company}:p:{len(worker)}:{worker}:{key}"

    @staticmethod
    def _property_index_key(company: str, worker: str) -> str:
        return f"{PREFIX}:{company}:pk:{worker}"

    # -- records -----------------------------------------------------------------------------------------
    def load(self, company: str, worker: str) -> dict | None:
        data = self.redis.get(self.record_key(company, worker))
        return json.loads(data) if data else None

    def save(self, company: str, record: dict, previous_queues: Iterable[str] = ()) -> None:
        """Write ``record`` (its ``id``, ``queues`` and ``register_timeout`` seconds) and refresh its expiry."""
        worker, timeout = record["id"], int(record["register_timeout"])
        expires = _now() + timeout
        queues = set(record.get("queues") or [])
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.record_key(company, worker), json.dumps(record), ex=timeout)
        pipe.zadd(self._all_key(company), {worker: expires})
        for queue in queues:
            pipe.zadd(self._queue_key(company, queue), {worker: expires})
        for queue in set(previous_queues) - queues:
            pipe.zrem(self._queue_key(company, queue), worker)
        pipe.execute()

    def delete(self, company: str, worker: str) -> bool:
        """Forget a worker; its runtime properties stay (they outlive agent restarts). False if unknown.
        It is remembered as gone for ``UNREGISTERED_GRACE_SEC``: see ``recently_unregistered``."""
        record = self.load(company, worker)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(self.record_key(company, worker))
        pipe.set(self._gone_key(company, worker), "1", ex=UNREGISTERED_GRACE_SEC)
        pipe.zrem(self._all_key(company), worker)
        for queue in (record or {}).get("queues") or []:
            pipe.zrem(self._queue_key(company, queue), worker)
        return bool(pipe.execute()[0])

    def recently_unregistered(self, company: str, worker: str) -> bool:
        """An agent's monitor thread can post one last status report just after its main thread
        unregistered; that report must not bring the worker back for a whole timeout."""
        return bool(self.redis.exists(self._gone_key(company, worker)))

    def forget_unregistered(self, company: str, worker: str) -> None:
        self.redis.delete(self._gone_key(company, worker))

    @staticmethod
    def _gone_key(company: str, worker: str) -> str:
        return f"{PREFIX}:{company}:gone:{worker}"

    def all_records(self, company: str) -> list[dict]:
        return self._records(company, self._live_members(self._all_key(company)))

    def is_alive(self, company: str, worker: str) -> bool:
        return bool(self.redis.exists(self.record_key(company, worker)))

    def listening_on(self, company: str, queue: str) -> list[str]:
        """Ids of the live workers that listen on ``queue``."""
        members = self._live_members(self._queue_key(company, queue))
        return [record["id"] for record in self._records(company, members) if queue in (record.get("queues") or [])]

    def _live_members(self, index_key: str) -> list[str]:
        self.redis.zremrangebyscore(index_key, "-inf", _now())
        return self.redis.zrange(index_key, 0, -1)

    def _records(self, company: str, workers: list[str]) -> list[dict]:
        if not workers:
            return []
        values = self.redis.mget([self.record_key(company, w) for w in workers])
        return [json.loads(value) for value in values if value]

    # -- runtime properties ------------------------------------------------------------------------------
    def set_properties(self, company: str, worker: str, properties: list[dict]) -> None:
        """Each property is ``{key, value, expiry?}``: expiry seconds > 0 sets a TTL, 0 deletes the key, none
        keeps it until it is replaced."""
        index = self._property_index_key(company, worker)
        pipe = self.redis.pipeline(transaction=True)
        for prop in properties:
            key = self._property_key(company, worker, prop["key"])
            expiry = prop.get("expiry")
            if expiry == 0:
                pipe.delete(key)
                pipe.srem(index, prop["key"])
                continue
            pipe.set(key, prop["value"], ex=expiry or None)
            pipe.sadd(index, prop["key"])
        pipe.execute()

    def get_properties(self, company: str, worker: str) -> list[dict]:
        """``[{key, value, expiry}]`` sorted by key; ``expiry`` is the seconds left (None: no expiry)."""
        index = self._property_index_key(company, worker)
        names = sorted(self.redis.smembers(index))
        if not names:
            return []
        pipe = self.redis.pipeline(transaction=True)  # value and TTL read together
        for name in names:
            key = self._property_key(company, worker, name)
            pipe.get(key)
            pipe.ttl(key)
        replies = pipe.execute()
        found, expired = [], []
        for name, value, ttl in zip(names, replies[0::2], replies[1::2]):
            if value is None:
                expired.append(name)
            else:
                found.append({"key": name, "value": value, "expiry": ttl if ttl > 0 else None})
        if expired:
            self.redis.srem(index, *expired)
        return found
