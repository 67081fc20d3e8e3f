"""``trackside-agent daemon``: serve queues, running each task handed out as an ``execute`` child.

    trackside-agent daemon --queue high low            # strict priority; --order-fairness: round robin
    trackside-agent daemon --queue services --services-mode 4 --cpu-only
    trackside-agent daemon --queue gpu --gpus 0,1 -d   # in the background; --stop with the same arguments

The verbs' modules: ``queues`` (names to ids), ``service`` (claim, run, shut down), ``children`` (the
execute processes), ``detach`` (background runs and PID files), ``report`` (``--status``).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from trackside.agent.api import AgentApi, ApiError
from trackside.agent.config import AgentConfig
from trackside.agent.config.env import WORKER_TAGS
from trackside.agent.daemon import detach
from trackside.agent.daemon.children import ChildSpec
from trackside.agent.daemon.queues import Queue, QueueError, resolve_queues
from trackside.agent.daemon.service import Daemon, DaemonSettings
from trackside.agent.daemon.working_hours import WorkingHours
from trackside.agent.gpu_allocation import GpuAllocationError, GpuPool, QueueGpus, daemon_tag, parse_queue_specs
from trackside.agent.gpus import GpuSelection, GpuSpecError, detect_gpu_count, select_gpus
from trackside.agent.machine_stats import MachineStats
from trackside.agent.schedule import Schedule, ScheduleError, from_settings
from trackside.agent.status_reporter import StatusReporter
from trackside.agent.task_workers import TaskWorkerReports
from trackside.agent.worker_id import configured_worker_id, make_worker_id

log = logging.getLogger("trackside.agent.daemon")


class UsageError(Exception):
    """A flag combination the daemon cannot serve; exit code 2."""


def run_daemon(args, config: AgentConfig) -> int:
    if not args.debug:
        logging.getLogger().setLevel("WARNING" if args.log_level == "WARN" else args.log_level)
    try:
        _check_flags(args)
        schedule = working_hours(args, config)
        gpus = _gpus(args, config)
        shared_gpus = dynamic_gpus(args, gpus)
        key = _key(args, config, gpus)
        if args.stop is not False:
            return _stop(args, key)
        api = AgentApi.from_config(config)
        if args.status:
            from trackside.agent.daemon.report import print_status
            return print_status(api, config, args, key, schedule)
        if args.detached and not os.environ.get(detach.PID_FILE_ENV):
            _queues(api, args)  # a wrong queue is reported here, on the terminal, not in the log file
            return detach.launch_detached(getattr(args, "argv", None) or sys.argv[1:], key)
        return _serve(api, config, args, gpus, schedule, shared_gpus)
    except (UsageError, GpuSpecError, GpuAllocationError, QueueError, ScheduleError) as exc:
        print(f"trackside-agent daemon: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"trackside-agent daemon: the server at {config.api_server} refused: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"trackside-agent daemon: {exc} (server {config.api_server})", file=sys.stderr)
        return 1


def _check_flags(args) -> None:
    if args.services_mode is not None and (args.services_mode == 0 or args.services_mode < -1):
        raise UsageError("--services-mode N: N must be a positive number of tasks (or -1, or nothing, for no limit)")


def working_hours(args, config: AgentConfig) -> Schedule | None:
    """The flags win over ``agent.uptime`` / ``agent.downtime`` (the pair that is set, as a whole)."""
    if args.uptime or args.downtime:
        return from_settings(args.uptime, args.downtime)
    return from_settings(config.get("agent.uptime"), config.get("agent.downtime"))


def dynamic_gpus(args, gpus: GpuSelection) -> tuple[GpuPool, list[QueueGpus]] | None:
    """``--dynamic-gpus``: the pool of GPUs to share and what each queue's tasks take from it."""
    if not args.dynamic_gpus:
        return None
    if gpus.cpu_only:
        raise GpuAllocationError("--dynamic-gpus and --cpu-only exclude each other")
    if not args.gpus:
        raise GpuAllocationError("--dynamic-gpus needs the GPUs to share: --gpus 0-3 or --gpus 0,1,2,3")
    devices = gpus.devices if gpus.devices is not None else tuple(str(i) for i in range(detect_gpu_count()))
    return GpuPool(list(devices)), parse_queue_specs(list(args.queues), len(devices))


def _gpus(args, config: AgentConfig) -> GpuSelection:
    cpu_only = bool(args.cpu_only or (config.get("agent.cpu_only") and not args.gpus))
    return select_gpus(args.gpus, cpu_only)


def _key(args, config: AgentConfig, gpus: GpuSelection) -> str:
    return detach.instance_key(list(args.queues), args.gpus, gpus.cpu_only, configured_worker_id(config))


def _queues(api: AgentApi, args) -> list[Queue]:
    names = list(args.queues)
    if args.dynamic_gpus:  # "dual=2" names the queue "dual"
        names = [name.rpartition("=")[0] or name for name in names]
    return resolve_queues(api.call, names, create=args.create_queue)


def _stop(args, key: str) -> int:
    if args.stop:  # --stop WORKER_ID...
        wanted = set(args.stop)
        found = [r for r in detach.records() if r.worker in wanted]
        missing = wanted - {r.worker for r in found}
        for worker in sorted(missing):
            print(f"trackside-agent: no detached agent with worker id {worker}", file=sys.stderr)
        code = detach.stop(found, "those worker ids") if found else 1
        return code or (1 if missing else 0)
    return detach.stop(detach.records(key), "these arguments")


def _serve(api: AgentApi, config: AgentConfig, args, gpus: GpuSelection, schedule: Schedule | None,
           shared_gpus: tuple[GpuPool, list[QueueGpus]] | None) -> int:
    queues = _queues(api, args)
    worker = make_worker_id(config, gpus, daemon_tag(shared_gpus[0].devices) if shared_gpus else None)
    # Dynamic GPUs: as many tasks at once as the GPUs allow, unless --services-mode N caps them too.
    unlimited = args.services_mode == -1 or (shared_gpus is not None and args.services_mode is None)
    capacity = None if unlimited else (args.services_mode or 1)
    pool, queue_gpus = None, {}
    if shared_gpus is not None:
        pool, specs = shared_gpus
        if len(specs) != len(queues):
            raise UsageError("--dynamic-gpus: each queue may be listed once")
        queue_gpus = {queue.id: spec for queue, spec in zip(queues, specs)}
    # As clearml-agent: in services mode each task reports as a worker of its own, with the child tags; without
    # it the daemon is the one worker and reports them itself.
    service_workers = args.services_mode is not None and shared_gpus is None
    child_tags = tuple(args.child_report_tags or config.get("agent.child_report_tags") or ())
    tags = _worker_tags() if service_workers or not child_tags else list(child_tags)
    _warn_if_taken(api, config, worker)
    _print_table(worker, queues, gpus, capacity, queue_gpus)

    spec = ChildSpec(worker=worker, config_file=config.path, env=_child_env(args, gpus), args=_child_args(args),
                     foreground=args.foreground, log_dir=detach.runtime_dir() / "tasks")
    interval = float(config.get("agent.status_report_interval_sec") or 30.0)
    hours = WorkingHours(schedule, api.call, worker) if schedule else None
    settings = DaemonSettings(worker, queues, capacity, order_fairness=args.order_fairness,
                              schedule_active=hours.active if hours else None, gpu_pool=pool, queue_gpus=queue_gpus,
                              service_workers=service_workers, child_tags=child_tags,
                              docker=args.docker is not False)
    stats = MachineStats(gpus.indices())

    def reporter(daemon: Daemon) -> StatusReporter:
        return StatusReporter(api.call, worker, [q.id for q in queues], daemon.current, stats, interval, tags,
                              TaskWorkerReports(daemon.task_workers) if shared_gpus or service_workers else None)

    daemon = Daemon(api.call, settings, spec, reporter)
    stop_requested = threading.Event()
    _install_signal_handlers(stop_requested, daemon)
    pid_file = None
    try:
        try:
            api.call("workers.register", {"worker": worker, "queues": [q.id for q in queues], "tags": tags,
                                          "timeout": int(max(60.0, 3 * interval))})
        except ApiError as exc:  # status reports register it too
            log.warning("workers.register failed: %s", exc)
        pid_file = _claim_pid_file(worker, queues)
        daemon.start()
        if hours:
            hours.start(on_change=daemon.subscriber.wake)
        log.info("worker %s waiting for tasks on %s", worker, ", ".join(q.name for q in queues))
        daemon.wait(stop_requested)
        log.info("stopping: no new tasks%s", "" if not daemon.children else ", ending the running ones")
        daemon.shutdown()
    finally:
        if hours:
            hours.stop()
        try:
            api.call("workers.unregister", {"worker": worker})
        except Exception as exc:  # noqa: BLE001 - it expires after the worker timeout anyway
            log.warning("workers.unregister failed: %s", exc)
        stats.close()
        _release_pid_file(pid_file)
    log.info("worker %s stopped (%d task(s) launched)", worker, daemon.launched)
    return 1 if daemon.claimer_failed is not None else 0


def _install_signal_handlers(stop_requested: threading.Event, daemon: Daemon) -> None:
    def on_signal(signum, _frame):
        if stop_requested.is_set():
            log.warning("second %s: killing the running tasks now", signal.Signals(signum).name)
            daemon.kill_children()
            return
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)


def _child_env(args, gpus: GpuSelection) -> dict[str, str]:
    """GPUs, and git credentials given as flags (passed in the environment: never on a command line)."""
    env = dict(gpus.env())
    if args.git_user:
        env["CLEARML_AGENT_GIT_USER"] = args.git_user
    if args.git_pass:
        env["CLEARML_AGENT_GIT_PASS"] = args.git_pass
    if args.child_report_tags:   # the tags the tasks' own workers report (docker services)
        env[WORKER_TAGS] = " ".join(args.child_report_tags)
    return env


def _child_args(args) -> list[str]:
    """``--docker [IMAGE ARGS]``: each child runs its task in a container (the task's image first);
    ``--use-owner-token`` is passed on."""
    docker = [] if args.docker is False else ["--docker", *args.docker]
    owner = ["--use-owner-token"] if getattr(args, "use_owner_token", False) else []
    return ["--log-level", args.log_level] + ["-O"] * (args.optimization or 0) + docker + owner


def _worker_tags() -> list[str]:
    raw = os.environ.get(WORKER_TAGS) or ""
    return [tag for tag in raw.replace(",", " ").split() if tag]


def _warn_if_taken(api: AgentApi, config: AgentConfig, worker: str) -> None:
    """A configured id is used as is: say so when another live agent already reports under it."""
    if not configured_worker_id(config):
        return
    try:
        workers = api.call("workers.get_all", {"last_seen": 60}).get("workers") or []
    except ApiError:
        return
    if any(w.get("id") == worker for w in workers):
        log.warning("worker id %s is already in use by a live agent; both will report under it "
                    "(set a different agent.worker_id / CLEARML_WORKER_ID)", worker)


def _print_table(worker: str, queues: list[Queue], gpus: GpuSelection, capacity: int | None,
                 queue_gpus: dict[str, QueueGpus]) -> None:
    if queue_gpus:
        mode = "dynamic GPUs" + (f", up to {capacity} tasks at once" if capacity else "")
    else:
        mode = "one task at a time" if capacity == 1 else (f"services mode, up to {capacity} tasks at once"
                                                           if capacity else "services mode, no task limit")
    lines = [f"Worker {worker} ({mode}; GPUs: {gpus.tag})", "Queues, highest priority first:"]
    width = max(len(q.name) for q in queues)

    def needs(queue: Queue) -> str:
        spec = queue_gpus.get(queue.id)
        return "" if spec is None else f"  {spec.min}{'' if spec.max == spec.min else f'-{spec.max}'} GPU(s)"
    lines += [f"  {i}. {q.name:<{width}}  {q.id}{needs(q)}" for i, q in enumerate(queues, 1)]
    print("\n".join(lines), flush=True)


def _claim_pid_file(worker: str, queues: list[Queue]) -> Path | None:
    """The detached child records its worker id in the PID file its launcher reserved (the launcher waits
    for it); None when not detached."""
    raw = os.environ.pop(detach.PID_FILE_ENV, None)
    if not raw:
        return None
    path = Path(raw)
    reserved = detach.PidRecord.read(path)
    detach.write_record(path, os.getpid(), worker=worker, queues=[q.name for q in queues],
                        log=reserved.log if reserved else None)
    return path


def _release_pid_file(path: Path | None) -> None:
    if path is None:
        return
    record = detach.PidRecord.read(path)
    if record is not None and record.pid == os.getpid():
        path.unlink(missing_ok=True)
