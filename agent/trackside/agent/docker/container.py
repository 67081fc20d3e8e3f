"""One task container through the Docker Engine API (docker-py): pull, create, start, follow its output,
wait, stop, remove. The engine is the one ``DOCKER_HOST`` names, as for the docker CLI."""
from __future__ import annotations

import threading
import time
from typing import Callable

import docker
import docker.errors

from trackside.agent.docker.spec import TASK_LABEL, WORKER_LABEL, ContainerSpec


class ContainerError(RuntimeError):
    """The container could not be made or started; the message says why (a missing image, a refused
    argument, an unreachable engine)."""


def engine() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        raise ContainerError(f"cannot reach the Docker Engine (DOCKER_HOST or /var/run/docker.sock): {exc}") from None


def remove_left_behind(task_id: str, worker: str) -> tuple[list[str], list[str]]:
    """The containers of ``task_id`` run for ``worker`` that are still on the engine once the ``execute``
    process that owned them is gone (killed: nobody follows, stops or removes them now): removed, with
    whatever still runs in them. A container with a restart policy that runs or is being restarted is kept:
    a resumable service, whose agent inside owns the task (it resumes it, and ends it on a stop request).
    ``(removed names, kept names)``."""
    client = engine()
    left = client.containers.list(all=True, filters={"label": [f"{TASK_LABEL}={task_id}", f"{WORKER_LABEL}={worker}"]})
    removed, kept = [], []
    for container in left:
        if is_restarting_service(container):
            kept.append(container.name)
            continue
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
        removed.append(container.name)
    return removed, kept


def is_restarting_service(container) -> bool:
    """Whether docker runs this container under a restart policy and it is up or coming back up."""
    policy = ((container.attrs.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"
    state = (container.attrs.get("State") or {})
    return policy != "no" and (state.get("Running") or state.get("Restarting")
                               or container.status in ("running", "restarting"))


class TaskContainer:
    def __init__(self, client: docker.DockerClient, spec: ContainerSpec):
        self.client, self.spec = client, spec
        self.container = None
        self.exit_code: int | None = None
        self.exited = threading.Event()
        self._restarts = 0

    def start(self, force_pull: bool, say: Callable[[str], None]) -> None:
        self._ensure_image(force_pull, say)
        try:
            self.container = self.client.containers.create(**self.spec.create_kwargs())
            self.container.start()
        except docker.errors.DockerException as exc:
            raise ContainerError(f"docker could not start the container: {_explain(exc)}") from None

    def follow(self, feed: Callable[[bytes], None], on_exit: Callable[[], None]) -> threading.Thread:
        """Stream the container's output (stdout and stderr, as the task sees them) into ``feed`` from a
        thread; when it ends, record the exit code and call ``on_exit``."""
        def run():
            delivered = 0   # bytes fed so far: a restarted container's log holds every run, read from the start
            while True:
                skip = delivered
                try:
                    for chunk in self.container.logs(stream=True, follow=True):
                        if skip >= len(chunk):
                            skip -= len(chunk)
                            continue
                        chunk, skip = chunk[skip:], 0
                        delivered += len(chunk)
                        feed(chunk)
                except docker.errors.DockerException:
                    pass  # removed under us (a stop): the exit code below still tells
                if self._restarted():   # already running again: waiting for its exit would hold its output back
                    continue
                try:
                    self.exit_code = int(self.container.wait(timeout=60).get("StatusCode", -1))
                except Exception:  # noqa: BLE001 - gone or unreachable
                    self.exit_code = -1
                if not self._restarted():
                    break
            self.exited.set()
            on_exit()
        thread = threading.Thread(target=run, name="container-output", daemon=True)
        thread.start()
        return thread

    def _restarted(self) -> bool:
        """With a restart policy the engine starts the container again: keep following it."""
        if not self.spec.options.get("restart_policy"):
            return False
        time.sleep(1.0)
        try:
            self.container.reload()
        except docker.errors.DockerException:
            return False
        restarts = int(self.container.attrs.get("RestartCount") or 0)
        again = restarts > self._restarts or self.container.status in ("restarting", "running")
        self._restarts = restarts   # a quick run may have ended again already: its output is still to read
        return again

    def stop(self, grace_sec: float) -> None:
        """SIGTERM to the agent in the container (it ends the task's processes), then SIGKILL."""
        if self.container is None:
            return
        try:
            self.container.stop(timeout=int(max(1, grace_sec)))
        except docker.errors.DockerException:
            pass

    def remove(self) -> None:
        if self.container is None:
            return
        try:
            self.container.remove(force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException:
            pass

    def _ensure_image(self, force_pull: bool, say: Callable[[str], None]) -> None:
        image = self.spec.image
        try:
            self.client.images.get(image)
            here = True
        except docker.errors.ImageNotFound:
            here = False
        except docker.errors.DockerException as exc:
            raise ContainerError(f"docker could not look up image {image}: {_explain(exc)}") from None
        if here and not force_pull:
            return
        say(f"pulling image {image}")
        try:
            self.client.images.pull(image)
        except docker.errors.DockerException as exc:
            # agent.docker_force_pull asks for the newest copy; a registry that is down for a moment should
            # not fail a task whose image is already here, so the local copy runs and the log says so.
            if here:
                say(f"could not pull image {image} ({_explain(exc)}): running the local copy")
                return
            raise ContainerError(f"could not pull image {image}: {_explain(exc)}") from None


def _explain(exc: docker.errors.DockerException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()
