"""``--use-owner-token``: the task's process acts as the task's owner (CLEARML_AUTH_TOKEN from
auth.get_token_for_user, none of the agent's keys, a clearml.conf without credentials); an agent whose
credentials may not ask for that token runs the task with its own, and the task's log says why. Through
`execute` and through the daemon, against the real API."""
from __future__ import annotations

import dataclasses

import pytest

from support.names import unique
from support.objects import create_queue, get_task
from support.our_agent import AgentHome
from support.users import new_user
from support.waiting import wait_for

SCRIPT = """\
import json, os, urllib.request
token = os.environ.get('CLEARML_AUTH_TOKEN')
print('agent keys', 'CLEARML_API_ACCESS_KEY' in os.environ, 'CLEARML_API_SECRET_KEY' in os.environ)
if token:
    conf = json.load(open(os.environ['CLEARML_CONFIG_FILE']))
    print('config has credentials', 'credentials' in conf['api'], 'keeps the server', bool(conf['api']['api_server']))
    request = urllib.request.Request(os.environ['CLEARML_API_HOST'] + '/users.get_current_user', data=b'{}',
                                     headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
    print('acting as', json.load(urllib.request.urlopen(request))['data']['user']['id'])
else:
    print('no owner token')
"""


def owners_task(as_owner) -> str:
    return as_owner.ok("tasks.create", name=unique("owned"), type="training",
                       script={"diff": SCRIPT, "entry_point": "job.py", "working_dir": "."})["id"]


def console(api, task_id: str) -> str:
    events = api.ok("events.get_task_log", task=task_id, batch_size=5000, navigate_earlier=False)["events"]
    return "\n".join(e.get("msg") or "" for e in events)


def agent_home(tmp_path, api_server, server=None) -> AgentHome:
    return AgentHome.create(tmp_path, server or api_server, {"log_flush_interval_sec": 0.2},
                            extra_env={"CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL": "1"})


def test_execute_runs_the_task_as_its_owner(api, api_server, tmp_path):
    owner, as_owner = new_user(api)
    task = owners_task(as_owner)
    result = agent_home(tmp_path, api_server).execute(task, "--use-owner-token")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = console(api, task)
    assert f"acting as {owner}" in log
    assert "agent keys False False" in log
    assert "config has credentials False keeps the server True" in log
    assert f"running the task with its owner's token (user {owner})" in log
    assert get_task(api, task)["status"] == "completed"


def test_an_agent_that_may_not_ask_falls_back_to_its_own_credentials(api, api_server, tmp_path):
    _, as_plain = new_user(api)   # the agent runs with a plain user's keys: get_token_for_user is refused
    keys = as_plain.ok("auth.create_credentials")["credentials"]
    plain_server = dataclasses.replace(api_server, key=keys["access_key"], secret=keys["secret_key"])
    _, as_owner = new_user(api)
    task = owners_task(as_owner)
    result = agent_home(tmp_path, api_server, plain_server).execute(task, "--use-owner-token")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = console(api, task)
    assert "no owner token" in log and "agent keys True True" in log
    assert "cannot get a token for the task's owner" in log and "running the task with the agent's credentials" in log


def test_without_the_flag_the_task_runs_with_the_agents_credentials(api, api_server, tmp_path):
    _, as_owner = new_user(api)
    task = owners_task(as_owner)
    result = agent_home(tmp_path, api_server).execute(task)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = console(api, task)
    assert "no owner token" in log and "owner's token" not in log


@pytest.mark.slow
def test_the_daemon_passes_the_flag_to_its_tasks(api, api_server, tmp_path):
    owner, as_owner = new_user(api)
    queue_name = unique("owner-q")
    create_queue(api, queue_name)
    home = agent_home(tmp_path, api_server)
    daemon = home.start_daemon("--queue", queue_name, "--use-owner-token")
    try:
        task = owners_task(as_owner)
        as_owner.ok("tasks.enqueue", task=task, queue_name=queue_name)
        wait_for(lambda: get_task(api, task)["status"] in ("completed", "failed"), timeout=120,
                 what="the owner's task to finish")
        assert get_task(api, task)["status"] == "completed", daemon.log()[-3000:]
        assert f"acting as {owner}" in console(api, task)
    finally:
        daemon.stop()
