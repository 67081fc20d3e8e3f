"""``trackside-watchdog``: run the periodic jobs while holding the watchdog lock.

Without Redis the lock cannot be taken; the jobs then run anyway (every write they make is conditional, so
two watchdogs at once waste work but break nothing), which keeps expired leases returning during an outage.
The non-responsive task job stops nothing then: it cannot read which tasks live workers run.
"""
from __future__ import annotations

import argparse
import logging
import logging.config
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable

import redis

from trackside.shared import domain_events, health_listener
from trackside.shared.config import ConfigError, load_config
from trackside.shared.dispatch.acl import check_configured_redis
from trackside.shared.dispatch.entries import QueueEntries
from trackside.shared.dispatch.keys import WATCHDOG_LOCK
from trackside.shared.dispatch.queue_metrics import QueueMetricsRecorder
from trackside.shared.dispatch.reconcile import Reconciler
from trackside.shared.dispatch.settings import DispatchSettings
from trackside.shared.events.factory import store_from_config
from trackside.shared.events.retention import EventRetention, RetentionSettings
from trackside.shared.storage import mongo, redis as redis_store
from trackside.watchdog.event_replay import EventReplay
from trackside.watchdog.lock import RedisLock
from trackside.watchdog.non_responsive import NonResponsiveTasks, Settings as NonResponsiveSettings

log = logging.getLogger("trackside.watchdog")
METRICS_JOB_INTERVAL_SEC = 60.0


@dataclass
class Job:
    name: str
    # Seconds until the next run, asked after each run (a job may re-read it from its settings).
    interval_sec: Callable[[], float]
    run: Callable[[], object]
    due: float = 0.0


def build_jobs(config) -> list[Job]:
    db = mongo.connect(config.get("hosts.mongo.backend.host"))
    client = redis_store.connect(config.get_config("hosts.redis.apiserver"), socket_timeout=5.0,
                                 socket_connect_timeout=2.0)
    settings = DispatchSettings.from_config(config)
    reconciler = Reconciler(db, client, settings)
    metrics = QueueMetricsRecorder(db)
    entries = QueueEntries(db["queues"])
    refresh_sec = float(config.get("services.queues.metrics_refresh_interval_sec", 300))
    retention_sec = float(config.get("services.queues.metrics_retention_days", 30)) * 86400

    def sample_metrics() -> int:
        queues = entries.queue_ids()
        sampled = metrics.refresh(queues, refresh_sec) if refresh_sec > 0 else 0
        metrics.prune(retention_sec)
        return sampled

    non_responsive = NonResponsiveTasks(db, client, lambda: NonResponsiveSettings.from_config(load_config()))
    replay = EventReplay.from_config(db, client, config)
    # The watchdog's own status changes (non-responsive stops) are published as the API's are.
    domain_events.configure(config, lambda: redis_store.connect(config.get_config("hosts.redis.apiserver"),
                                                                socket_timeout=5.0, socket_connect_timeout=2.0))
    replay_interval_sec = replay.interval_sec(config)
    retention = EventRetention(db, store_from_config(config, db), RetentionSettings.from_config(config))
    return [
        Job("events retention", retention.interval_sec, retention.run_pass),
        Job("domain event replay", lambda: replay_interval_sec, replay.run_pass),
        Job("dispatch reconcile", lambda: settings.reconcile_interval_sec, reconciler.run_pass),
        Job("queue metrics", lambda: METRICS_JOB_INTERVAL_SEC, sample_metrics),
        # The first pass waits one interval, as the reference's does: after an outage of the whole server,
        # clients get to ping (every 30 s) before anything is judged.
        Job("non-responsive tasks", lambda: non_responsive.settings.watch_interval_sec, non_responsive.run_pass,
            due=time.monotonic() + non_responsive.settings.watch_interval_sec),
    ]


def run(config, stop: threading.Event) -> None:
    jobs = build_jobs(config)
    settings = DispatchSettings.from_config(config)
    # Held across passes; lost (and taken over by another watchdog) after three missed renewals.
    lock = RedisLock(redis_store.connect(config.get_config("hosts.redis.apiserver"), socket_timeout=5.0,
                                         socket_connect_timeout=2.0),
                     WATCHDOG_LOCK, ttl_ms=int(max(3 * settings.reconcile_interval_sec, 10) * 1000))
    try:
        while not stop.is_set():
            if _holds(lock):
                now = time.monotonic()
                for job in jobs:
                    if now >= job.due:
                        _run_job(job)
                        job.due = now + job.interval_sec()
            nearest = min(job.due for job in jobs) - time.monotonic()
            stop.wait(max(0.05, min(nearest, settings.reconcile_interval_sec)))
    finally:
        try:
            lock.release()
        except redis.RedisError:
            pass


def _holds(lock: RedisLock) -> bool:
    try:
        return lock.hold()
    except redis.RedisError as exc:
        log.warning("watchdog lock unavailable (%s); running the jobs without it", exc)
        return True


def _run_job(job: Job) -> None:
    try:
        result = job.run()
        log.debug("%s: %s", job.name, result)
    except Exception:  # noqa: BLE001 - one failed pass must not end the watchdog
        log.exception("%s failed; retrying in %.0f s", job.name, job.interval_sec())


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="trackside-watchdog", description=__doc__.splitlines()[0]).parse_args(argv)
    try:
        config = load_config()
        NonResponsiveSettings.from_config(config)  # checked once here; a later bad edit keeps the last settings
    except ConfigError as exc:
        print(f"trackside-watchdog: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.config.dictConfig(config.get_config("logging").as_plain_ordered_dict())
    refusal = check_configured_redis(config)
    if refusal:
        print(f"trackside-watchdog: {refusal}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    probes = health_listener.start(config.get("watchdog.health.listen.host"),
                                   config.get_int("watchdog.health.listen.port"),
                                   health_listener.readiness(config), "trackside-watchdog")
    log.info("watchdog started")
    run(config, stop)
    if probes is not None:
        probes.shutdown()
    log.info("watchdog stopped")
    return 0
