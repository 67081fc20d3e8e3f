"""The webhooks service: signed deliveries of domain events, and server-side UI actions.

``trackside-webhooks [serve]``: the stream consumer (deliveries from domain events) and the sweep of lost
jobs; ``trackside-webhooks worker``: an RQ worker, with RQ's scheduler (retries are scheduled jobs), running
deliveries and server-side UI actions. Run one service (more are safe: they share the consumer group) and as
many workers as the delivery rate needs."""
from __future__ import annotations

import argparse
import logging
import logging.config
import signal
import sys
import threading
import time

from trackside.shared import health_listener
from trackside.shared.config import ConfigError, load_config
from trackside.shared.dispatch.acl import check_configured_redis
from trackside.shared.webhooks import jobs
from trackside.webhooks import resources, sweeper
from trackside.webhooks.consumer import Consumer
from trackside.webhooks.settings import SECTION, Settings

log = logging.getLogger("trackside.webhooks")
WORKER_RESTART_MAX_SEC = 10.0
# RQ checks its scheduler process and cleans its registries this often (its default is 10 minutes); a
# scheduler that died with a Redis outage is started again within it.
WORKER_MAINTENANCE_SEC = 30


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trackside-webhooks", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("serve", "worker"), default="serve",
                        help="serve (default): the stream consumer; worker: an RQ worker with the scheduler")
    parser.add_argument("--burst", action="store_true", help="worker: run the queued jobs, then exit")
    args = parser.parse_args(argv)
    try:
        config = load_config()
        Settings.from_config(config)
    except (ConfigError, ValueError, TypeError) as exc:
        print(f"trackside-webhooks: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.config.dictConfig(config.get_config("logging").as_plain_ordered_dict())
    refusal = check_configured_redis(config)
    if refusal:
        print(f"trackside-webhooks: {refusal}", file=sys.stderr)
        return 2
    if args.command == "worker":
        return work(config, burst=args.burst)
    return serve(config)


def serve(config) -> int:
    res = resources.build(config)
    resources.use(res)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    probes = _probes(config, "health", "trackside-webhooks")
    next_sweep = time.monotonic() + res.settings.sweep_interval_sec

    def between_reads() -> None:
        nonlocal next_sweep
        if time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + res.settings.sweep_interval_sec
            try:
                sweeper.sweep(res)
            except Exception:  # noqa: BLE001 - the next pass tries again
                log.exception("sweep of overdue deliveries failed")

    log.info("webhooks service started (consumer %s in group %s)", res.settings.consumer_name,
             res.settings.consumer_group)
    Consumer(res).run(stop, between_reads)
    if probes is not None:
        probes.shutdown()
    log.info("webhooks service stopped")
    return 0


def work(config, burst: bool = False) -> int:
    """An RQ worker running jobs in this process (no fork per job: the clients are reused). RQ's worker quits
    when Redis goes away; it is started again, so a Redis restart only pauses deliveries."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    res = resources.build(config)
    resources.use(res)
    probes = _probes(config, "worker_health", "trackside-webhooks-worker")
    connection = jobs.rq_connection(res.redis)
    delay = 0.5
    while True:
        worker = SimpleWorker([jobs.queue(res.redis)], connection=connection, serializer=JSONSerializer,
                              maintenance_interval=WORKER_MAINTENANCE_SEC, log_job_description=False)
        started = time.monotonic()
        try:
            worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
        except Exception as exc:  # noqa: BLE001 - Redis gone while starting: wait and start again
            log.warning("RQ worker could not run: %s", exc)
        if burst or worker._stop_requested or worker._shutdown_requested_date is not None:
            break  # SIGTERM / SIGINT (RQ's handlers take them while it works)
        delay = 0.5 if time.monotonic() - started > 60 else min(delay * 2, WORKER_RESTART_MAX_SEC)
        log.warning("RQ worker stopped (Redis unavailable?); starting again in %.1f s", delay)
        time.sleep(delay)
    if probes is not None:
        probes.shutdown()
    return 0


def _probes(config, section: str, name: str):
    host = config.get(f"{SECTION}.{section}.listen.host", "127.0.0.1")
    port = config.get_int(f"{SECTION}.{section}.listen.port", 0)
    return health_listener.start(host, port, health_listener.readiness(config), name)


if __name__ == "__main__":
    sys.exit(main())
