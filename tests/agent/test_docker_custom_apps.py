"""Our agent as the documented custom-apps agent (custom-apps.md "Deployment facts", issue 17 item 5), in docker
mode against a real dockerd: ``daemon --docker --services-mode --create-queue --use-owner-token
--child-report-tags application --queue custom_apps_queue`` with the documented environment. A resumable app
instance launched through ``apps.launch_instance`` by a plain user runs in a container named after the
documented format with clearml-agent's labels, reports as a worker tagged ``application``, acts as the user
who launched it, and nothing in its container holds the agent's secret. Its process killed inside the
container, docker restarts the container and the same task runs again; a stop ends it for good."""
from __future__ import annotations

import json
import re

import pytest
import requests

from support.app_packages import build_zip
from support.daemons import start
from support.git_repo import GitHttpServer, git
from support.names import unique
from support.objects import get_task
from support.our_agent import AgentHome
from support.users import new_user
from support.waiting import wait_for
from trackside.agent.docker.spec import TASK_LABEL

pytestmark = [pytest.mark.docker, pytest.mark.slow]

QUEUE, WORKER = "custom_apps_queue", "custom-apps-agent"
NAME_FORMAT = "custom-app-{task_id}-{rand_string:.8}"
# The app's task: stdlib only (the test image has no numpy), acting through the owner's token it was given.
APP_MAIN = """\
import json, os, time, urllib.request

def call(endpoint, data):
    request = urllib.request.Request(os.environ["CLEARML_API_HOST"] + "/" + endpoint, data=json.dumps(data).encode(),
                                     headers={"Authorization": "Bearer " + os.environ["CLEARML_AUTH_TOKEN"],
                                              "Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(request))["data"]

conf = json.load(open(os.environ["CLEARML_CONFIG_FILE"]))
print("APP_STARTED acting as", call("users.get_current_user", {})["user"]["id"],
      "config has credentials", "credentials" in conf["api"], flush=True)
tick = 0
while True:
    tick += 1
    print("TICK", tick, flush=True)
    time.sleep(1)
"""
APP_CONF = """
id: "ticker"
name: "Ticker"
version: "1.0.0"
provider: "tests"
description: "Ticks until stopped"
default_queue: "custom_apps_queue"
resumable: true
details_page: "task"
task {
  script { repository: "%(repository)s", branch: "main", entry_point: "app_main.py", working_dir: "." }
  hyperparams { General { greeting: "hello" } }
}
wizard {
  entries: [
    { name: greeting, title: Greeting, type: string, default: "hello",
      target { field: hyperparams, section: General, name: greeting } }
  ]
}
dashboard { lines: [ { contents: [ { title: "Log", type: log } ] } ] }
"""


def app_repository(root) -> None:
    """``ticker.git`` under ``root``: the app's task code on ``main``."""
    bare, work = root / "ticker.git", root / "ticker-work"
    git("init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git("init", "--quiet", "--initial-branch=main", str(work))
    (work / "app_main.py").write_text(APP_MAIN)
    git("add", "--all", cwd=work)
    git("commit", "--quiet", "-m", "ticker", cwd=work)
    git("push", "--quiet", str(bare), "main", cwd=work)


def upload_app(api, repository: str) -> None:
    package = build_zip({"ticker.app.conf": (APP_CONF % {"repository": repository}).encode()})
    reply = requests.post(f"{api.base_url}/v{api.version}/apps.upload", files={"file": ("ticker.zip", package)},
                          headers={"Authorization": f"Bearer {api.token}"}, timeout=60)
    assert reply.status_code == 200, reply.text


def log_text(api, task: str) -> str:
    events = api.ok("events.get_task_log", task=task, batch_size=5000)["events"]
    return "\n".join(e.get("msg", "") for e in sorted(events, key=lambda e: e.get("timestamp", 0)))


def containers_of(docker_engine, task: str) -> list:
    return docker_engine.client().containers.list(all=True, filters={"label": f"{TASK_LABEL}={task}"})


def ticking_again(log: str) -> bool:
    """The app started a second time (the same task, in its restarted container) and ticks."""
    return log.count("APP_STARTED") == 2 and "TICK 2" in log.rsplit("APP_STARTED", 1)[1]


# Run inside the container: where the secret (argv[1]) appears, in files (mounts included) and in processes'
# environments.
FIND_SECRET = """\
import os, sys
secret, found = sys.argv[1].encode(), []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if secret in open(f"/proc/{pid}/environ", "rb").read():
            found.append("environ of " + pid)
    except OSError:
        pass
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
    for name in files:
        path = os.path.join(root, name)
        try:
            if os.path.isfile(path) and secret in open(path, "rb").read():
                found.append(path)
        except OSError:
            pass
print("FOUND", found)
"""
# Run inside the container: SIGKILL of the app's own process (its command line ends with the entry point,
# written split so that this script's own command line does not).
KILL_APP = """\
import os, signal
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        command = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    if command.endswith(b"app_" + b"main.py\\0"):
        os.kill(int(pid), signal.SIGKILL)
        print("KILLED", pid)
"""


def secret_places(container, secret: str) -> str:
    code, output = container.exec_run(["python3", "-c", FIND_SECRET, secret])
    assert code == 0, output
    return output.decode()


def kill_the_app_process(container) -> str:
    """The app's process killed inside the container (not docker's stop or kill, which are manual stops)."""
    code, output = container.exec_run(["python3", "-c", KILL_APP])
    assert code == 0 and b"KILLED" in output, output
    return output.decode()


def test_a_resumable_app_instance_runs_as_its_owner_restarts_when_killed_and_stops_for_good(
        api, api_server, docker_engine, test_image, tmp_path):
    app_repository(tmp_path / "git")
    owner, as_owner = new_user(api)
    labels = "trackside.test=custom-apps 'com.example.purpose=custom apps, docker test'"
    home = AgentHome.create(tmp_path / "agent", api_server,
                            {"extra_docker_arguments": ["--network", "host"], "log_flush_interval_sec": 0.2},
                            extra_env={**docker_engine.env(), "CLEARML_WORKER_ID": WORKER,
                                       "CLEARML_DOCKER_IMAGE": test_image,
                                       "CLEARML_AGENT_SERVICES_DOCKER_RESTART": "on-failure;application.resumable=True",
                                       "CLEARML_AGENT__AGENT__DOCKER_CONTAINER_NAME_FORMAT": NAME_FORMAT,
                                       "CLEARML_AGENT_EXTRA_DOCKER_LABELS": labels})
    secret = api_server.secret
    with GitHttpServer(tmp_path / "git") as git_server:
        upload_app(api, f"{git_server.base_url}/ticker.git")
        daemon, _ = start(home, "--foreground", "--docker", "--services-mode", "--create-queue", "--use-owner-token",
                          "--child-report-tags", "application", "--queue", QUEUE, name="custom-apps-agent")
        task = as_owner.ok("apps.launch_instance", app="ticker", launch_params={"greeting": "hi"},
                           task_name=unique("ticker"))["id"]
        assert get_task(api, task)["application"]["resumable"] is True
        wait_for(lambda: "TICK 2" in log_text(api, task) or not daemon.running(), 300, "the app to tick",
                 interval=0.5)
        [container] = containers_of(docker_engine, task)
        assert re.fullmatch(rf"custom-app-{task}-[a-z]{{8}}", container.name), container.name
        service_worker = f"{WORKER}:service:{task}"
        assert container.labels["clearml-worker-id"] == service_worker
        assert container.labels["clearml-parent-worker-id"] == WORKER
        assert container.labels["com.example.purpose"] == "custom apps, docker test"
        assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"
        workers = {w["id"]: w for w in api.ok("workers.get_all")["workers"]}
        assert "application" in workers[service_worker].get("tags", []), workers.get(service_worker)
        log = log_text(api, task)
        assert f"APP_STARTED acting as {owner} config has credentials False" in log, log[-3000:]
        # The agent's secret: not in the container's files (its mounts included) nor in any process there, nor
        # in its configuration, labels or name; nor in the task folder on this machine.
        assert "FOUND []" in secret_places(container, secret)
        assert secret not in json.dumps(container.attrs["Config"])
        [task_dir] = (home.path / "docker-tasks").glob(f"{task}-*")   # mounted at /trackside/task
        assert sorted(p.name for p in task_dir.iterdir()) == ["clearml.conf", "owner.token"]
        assert not [p.name for p in task_dir.iterdir() if secret in p.read_text()]
        # the search sees the mounts: the owner's token is found where the agent inside reads it
        assert "/trackside/task/owner.token" in secret_places(container, (task_dir / "owner.token").read_text())

        kill_the_app_process(container)
        wait_for(lambda: ticking_again(log_text(api, task)) or not daemon.running(), 300,
                 "docker to restart the container and the app to tick again", interval=0.5)
        container.reload()
        assert container.attrs["RestartCount"] >= 1 and [c.id for c in containers_of(docker_engine, task)] == [
            container.id]
        assert get_task(api, task)["status"] == "in_progress"

        as_owner.ok("apps.stop_instance", instance=task)
        wait_for(lambda: get_task(api, task)["status"] == "stopped" and not containers_of(docker_engine, task),
                 120, "the instance to stop and its container to go", interval=0.5)
        assert log_text(api, task).count("APP_STARTED") == 2   # it never came back
        assert daemon.running(), daemon.log()[-3000:]
        assert secret not in log_text(api, task) + daemon.log()
