"""The serving loop: claim work the moment it arrives, run each task as an ``execute`` child, stop cleanly.

Threads:
- the claimer takes claims from the dispatch ``Subscriber`` (which blocks on Redis, never polls), starts
  each claimed task (``dispatch.start``) and spawns its child. It asks for the next claim only when a slot
  is free: ``claims()`` claims before it yields, so asking while full would hold a task nobody runs. One slot
  without ``--services-mode``; N with ``--services-mode N``; no limit with ``--services-mode`` alone;
- a waiter per child reaps it, frees its slot and triggers a status report;
- the status reporter (``status_reporter.py``);
- the main thread waits for SIGTERM/SIGINT, then shuts down (``shutdown``).

Shutdown never strands a claim. Every ``dispatch.claim`` passes through ``_claim_call``, which refuses to
claim once stopping and otherwise marks the claimer busy until the claimed task is started or given back
(``dispatch.release``). Shutdown waits only while busy: a claimer blocked in Redis holds nothing, so the
daemon exits at once instead of waiting out the block (``block_ms``, 5 s).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from trackside.agent.daemon.children import EXIT_MEANING, Child, ChildSpec, prune_logs, spawn
from trackside.agent.daemon.queues import Queue
from trackside.agent.gpu_allocation import GpuPool, QueueGpus, task_worker_id, visible_devices_env
from trackside.agent.status_reporter import StatusReporter
from trackside.agent.task_workers import TaskWorker, service_worker_id
from trackside.shared.dispatch.subscriber import ClaimedTask, LeaseLost, Subscriber

log = logging.getLogger("trackside.agent.daemon")
CHILD_STOP_TIMEOUT_SEC = 30.0
CLAIM_IN_FLIGHT_TIMEOUT_SEC = 60.0


class _Stopping(BaseException):
    """Raised instead of a claim once the daemon is stopping (a BaseException, so that the subscriber's
    retry loop, which catches Exception, lets it through)."""


@dataclass
class DaemonSettings:
    worker: str
    queues: list[Queue]
    capacity: int | None           # None: no limit
    order_fairness: bool = False
    schedule_active: Callable[[], bool] | None = None   # working hours; None: always on
    gpu_pool: GpuPool | None = None                      # --dynamic-gpus: the GPUs tasks take and give back
    queue_gpus: dict[str, QueueGpus] = field(default_factory=dict)  # queue id -> GPUs a task takes
    # --services-mode (without dynamic GPUs): each task reports as a worker of its own, with these tags
    service_workers: bool = False
    child_tags: tuple[str, ...] = ()
    docker: bool = False          # --docker: each child runs its task in a container


class Daemon:
    def __init__(self, call: Callable[[str, dict], dict], settings: DaemonSettings, spec: ChildSpec,
                 reporter_factory: Callable[["Daemon"], StatusReporter]):
        self.call, self.settings, self.spec = call, settings, spec
        self.queue_names = {q.id: q.name for q in settings.queues}
        self.children: list[Child] = []
        self._lock = threading.Condition()
        self._stopping = False
        self._claim_busy = False
        self.subscriber = Subscriber(self._claim_call, settings.worker, [q.id for q in settings.queues],
                                     order_fairness=settings.order_fairness,
                                     schedule_active=settings.schedule_active,
                                     queue_filter=self._queues_that_fit if settings.gpu_pool else None)
        self.reporter = reporter_factory(self)
        self._claimer = threading.Thread(target=self._claim_loop, name="claimer", daemon=True)
        self._ended: "queue.Queue[tuple[Child, int] | None]" = queue.Queue()
        self._reaper = threading.Thread(target=self._reap_loop, name="reaper", daemon=True)
        self.claimer_failed: BaseException | None = None
        self.launched = 0

    # -- what runs now (for the status reporter) -----------------------------------------------------------
    def current(self) -> tuple[str | None, str | None]:
        with self._lock:
            first = next((child for child in self.children if not child.worker), None)
        return (first.task, first.queue) if first else (None, None)

    def task_workers(self) -> list[TaskWorker]:
        """The running tasks that report as workers of their own (dynamic GPUs, services mode)."""
        with self._lock:
            running = [child for child in self.children if child.worker]
        pool = self.settings.gpu_pool
        return [TaskWorker(c.worker, c.task, c.queue, pool.stats_slots(c.gpus) if pool and c.gpus else (),
                           self.settings.child_tags) for c in running]

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.reporter.start()
        self._reaper.start()
        self._claimer.start()

    def wait(self, stop_requested: threading.Event) -> None:
        """Until a signal sets ``stop_requested`` or the claimer dies (an unexpected error, logged)."""
        while not stop_requested.wait(0.5):
            if not self._claimer.is_alive():
                break

    def shutdown(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self.subscriber.stop()
        with self._lock:
            # A claim in flight ends started (its child is in self.children) or given back; then nothing more.
            if not self._lock.wait_for(lambda: not self._claim_busy, CLAIM_IN_FLIGHT_TIMEOUT_SEC):
                log.warning("a claim was still in flight after %.0f s; its lease will expire and return the task",
                            CLAIM_IN_FLIGHT_TIMEOUT_SEC)
            running = list(self.children)
        self._stop_children(running)
        with self._lock:  # every child has ended: wait for their waiters to hand them to the reaper
            self._lock.wait_for(lambda: not self.children, 5)
        self._ended.put(None)
        self._reaper.join(15)  # it checks that each ended child ended its task (_fail_if_abandoned)
        self.reporter.stop()

    # -- claiming --------------------------------------------------------------------------------------------
    def _claim_call(self, endpoint: str, data: dict):
        if endpoint != "dispatch.claim":
            return self.call(endpoint, data)
        with self._lock:
            if self._stopping:
                raise _Stopping()
            self._claim_busy = True
        try:
            reply = self.call(endpoint, data)
        except BaseException:
            self._claim_done()
            raise
        if not (reply or {}).get("entry"):
            self._claim_done()
        return reply

    def _claim_done(self) -> None:
        with self._lock:
            self._claim_busy = False
            self._lock.notify_all()

    def _claim_loop(self) -> None:
        claims = self.subscriber.claims()
        try:
            while self._wait_for_slot():
                try:
                    claimed = next(claims)
                except (StopIteration, _Stopping):
                    break
                try:
                    self._launch(claimed)
                finally:
                    self._claim_done()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread, which then stops
            self.claimer_failed = exc
            log.exception("the claim loop failed")
        finally:
            claims.close()
            self._claim_done()  # a claim lost inside the subscriber (a failed XACK) must not hold up shutdown

    def _wait_for_slot(self) -> bool:
        """True when a task may be claimed (a slot free and, with dynamic GPUs, some queue's minimum of GPUs
        free); False once stopping."""
        capacity = self.settings.capacity
        with self._lock:
            self._lock.wait_for(lambda: self._stopping or (
                (capacity is None or len(self.children) < capacity) and self._some_queue_fits()))
            return not self._stopping

    # -- dynamic GPUs ----------------------------------------------------------------------------------------
    def _some_queue_fits(self) -> bool:
        return self.settings.gpu_pool is None or bool(self._queues_that_fit(list(self.settings.queue_gpus)))

    def _queues_that_fit(self, queue_ids: list[str]) -> list[str]:
        pool, needs = self.settings.gpu_pool, self.settings.queue_gpus
        return [q for q in queue_ids if q in needs and pool.fits(needs[q].min)]

    def _take_gpus(self, claimed: ClaimedTask) -> tuple[str, ...] | None:
        """The GPUs for a claimed task; () without dynamic GPUs, None when they are no longer free."""
        if self.settings.gpu_pool is None:
            return ()
        need = self.settings.queue_gpus[claimed.queue]
        return self.settings.gpu_pool.allocate(need.min, need.max)

    def _return_gpus(self, gpus: tuple[str, ...]) -> None:
        if gpus and self.settings.gpu_pool is not None:
            self.settings.gpu_pool.release(gpus)
            with self._lock:
                self._lock.notify_all()
            self.subscriber.wake()  # tasks that waited for these GPUs were answered "nothing" earlier

    def _launch(self, claimed: ClaimedTask) -> None:
        queue_name = self.queue_names.get(claimed.queue, claimed.queue)
        with self._lock:
            stopping = self._stopping
        if stopping:
            self._give_back(claimed)
            return
        gpus = self._take_gpus(claimed)
        if gpus is None:
            log.info("task %s: its GPUs were taken meanwhile; giving it back", claimed.task)
            self._give_back(claimed)
            return
        try:
            self._start_and_spawn(claimed, queue_name, gpus)
        except BaseException:
            self._return_gpus(gpus)
            raise

    def _start_and_spawn(self, claimed: ClaimedTask, queue_name: str, gpus: tuple[str, ...]) -> None:
        try:
            self.subscriber.start(claimed, status_reason=f"pulled from {queue_name} by worker {self.settings.worker}",
                                  status_message="launch by agent")
        except LeaseLost:
            log.warning("task %s: its claim expired before it could start (it is back in its queue); skipped",
                        claimed.task)
            self._return_gpus(gpus)
            return
        except Exception as exc:  # noqa: BLE001 - the API failed: hand the task back if we still can
            log.error("task %s: could not start it: %s", claimed.task, exc)
            self._give_back(claimed)
            self._return_gpus(gpus)
            return
        try:
            child = spawn(self.spec, claimed.task, claimed.queue, visible_devices_env(gpus) if gpus else None,
                          self._task_worker(claimed.task, gpus))
        except OSError as exc:
            log.error("task %s: could not launch the execute process: %s", claimed.task, exc)
            self._end_task(claimed.task, "failed", f"agent could not launch the task: {exc}")
            self._return_gpus(gpus)
            return
        child.gpus = gpus
        with self._lock:
            self.children.append(child)
        self.launched += 1
        log.info("task %s from queue %s: running as PID %d%s%s", claimed.task, queue_name, child.pid,
                 f" on GPUs {','.join(gpus)}" if gpus else "", f" (output: {child.log_path})" if child.log_path else "")
        self.reporter.report_now()
        threading.Thread(target=self._wait_child, args=(child,), name=f"child-{child.pid}", daemon=True).start()

    def _task_worker(self, task: str, gpus: tuple[str, ...]) -> str:
        """The worker a task reports as; "" for the daemon's own."""
        if gpus:
            return task_worker_id(self.settings.worker, gpus)
        return service_worker_id(self.settings.worker, task) if self.settings.service_workers else ""

    def _give_back(self, claimed: ClaimedTask) -> None:
        try:
            self.subscriber.release(claimed)
            log.info("task %s given back to its queue", claimed.task)
        except Exception as exc:  # noqa: BLE001 - the lease expires and the watchdog returns the task
            log.warning("task %s: could not give it back (%s); it returns to its queue when its claim expires",
                        claimed.task, exc)

    def _end_task(self, task_id: str, status: str, reason: str) -> None:
        try:
            self.call(f"tasks.{status}", {"task": task_id, "force": True, "status_reason": reason,
                                          "status_message": f"Changed by trackside-agent {self.settings.worker}"})
        except Exception as exc:  # noqa: BLE001
            log.error("task %s: could not mark it %s: %s", task_id, status, exc)

    def _fail_if_abandoned(self, task_id: str, code: int) -> None:
        """A child that died without ending its task (killed, crashed on start) would leave it in_progress
        until the non-responsive watchdog, hours later: end it now, saying why."""
        try:
            tasks = self.call("tasks.get_all", {"id": [task_id], "only_fields": ["status"],
                                                "search_hidden": True}).get("tasks") or []
        except Exception as exc:  # noqa: BLE001
            log.warning("task %s: could not read its status after its process ended: %s", task_id, exc)
            return
        if not tasks or tasks[0].get("status") != "in_progress":
            return
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        if self._stopping:  # stopped before its handlers were up: end it as execute ends a task on SIGTERM
            self._end_task(task_id, "stopped", "the agent running the task was stopped")
            return
        log.warning("task %s: its execute process ended (%s) without ending the task; marking it failed",
                    task_id, how)
        self._end_task(task_id, "failed", f"agent execute process ended ({how}) without ending the task")

    def _remove_left_behind(self, child: Child) -> bool:
        """A killed ``execute --docker`` leaves its container running the task, unwatched: remove it. A
        resumable service's container that docker runs or restarts is left to the agent inside (it owns the
        task): True then, and the task is not failed either."""
        from trackside.agent.docker.container import remove_left_behind  # docker mode only
        try:
            removed, kept = remove_left_behind(child.task, child.worker or self.settings.worker)
        except Exception as exc:  # noqa: BLE001 - no engine, or it answered with an error
            log.warning("task %s: could not look for its container to remove it: %s", child.task, exc)
            return False
        if removed:
            log.warning("task %s: removed its container %s, left behind by its execute process",
                        child.task, ", ".join(removed))
        if kept:
            log.warning("task %s: its container %s has a restart policy and is running or restarting: left to "
                        "the agent inside it", child.task, ", ".join(kept))
        return bool(kept)

    def _wait_child(self, child: Child) -> None:
        """One per child: frees its slot the moment it exits; the reaper does the rest (API calls, from one
        thread and one HTTP session however many children come and go)."""
        code = child.wait()
        self._return_gpus(child.gpus)
        self._ended.put((child, code))
        with self._lock:
            if child in self.children:
                self.children.remove(child)
            self._lock.notify_all()

    def _reap_loop(self) -> None:
        while (item := self._ended.get()) is not None:
            child, code = item
            seconds = time.monotonic() - child.started
            log.info("task %s: %s (exit code %d) after %.1f s", child.task, EXIT_MEANING.get(code, "ended"), code,
                     seconds)
            kept = self.settings.docker and self._remove_left_behind(child)
            if not kept:
                self._fail_if_abandoned(child.task, code)
            prune_logs(self.spec.log_dir)
            self.reporter.report_now()

    # -- stopping the children -------------------------------------------------------------------------------
    def kill_children(self) -> None:
        """A second signal: no more waiting for the children to end their tasks."""
        with self._lock:
            running = list(self.children)
        for child in running:
            child.kill()

    def _stop_children(self, running: list[Child]) -> None:
        if not running:
            return
        log.info("stopping %d running task(s): %s", len(running), ", ".join(c.task for c in running))
        for child in running:
            child.terminate()
        deadline = time.monotonic() + CHILD_STOP_TIMEOUT_SEC
        for child in running:
            remaining = deadline - time.monotonic()
            try:
                child.process.wait(max(0.0, remaining))
            except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired
                log.warning("task %s: its process did not end within %.0f s; killed", child.task,
                            CHILD_STOP_TIMEOUT_SEC)
                child.kill()
                child.process.wait()
