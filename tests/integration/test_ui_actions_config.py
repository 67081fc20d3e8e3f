"""Custom context-menu actions from the configuration (organization.get_ui_actions / run_ui_action, ours from
2.31): set through a ``CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__TASK`` JSON variable and a services.conf
file; server-side actions show the browser only their method (server.config too); malformed configuration is
refused naming the key; run_ui_action refuses unknown names, browser actions and unknown ids."""
from __future__ import annotations

import json

import pytest

from support.client import ApiClient
from support.names import unique
from support.objects import create_project
from support.suite import start_api, stop_in_background
from support.webhooks import Receiver, WebhooksStack
from trackside.api import errors
from trackside.api.bll import ui_actions
from trackside.shared.config import load_config

BROWSER_ACTION = {"name": "Open in CI", "tooltip": "open the run", "action": {
    "method": "post", "url": "http://127.0.0.1:9/ci/${id}", "payload": {"task": "${id}"},
    "headers": {"Content-Type": "application/json"}}}
SERVER_ACTION = {"name": "Notify ops", "tooltip": "page", "server_side": True, "action": {
    "method": "POST", "url": "http://10.0.0.5/notify/${id}", "payload": "${id}",
    "headers": {"Authorization": "Bearer ${secret.OPS_TOKEN}"}}}
OPS_TOKEN = "ops-" + "s3cr3t-token"
SERVICES_CONF = """
organization {
    ui_actions {
        model: [
            { name: "Deploy", tooltip: "to staging",
              action { method: GET, url: "http://deploy.internal/models/${id}", headers { X-From: trackside } } }
        ]
        project: [
            { name: "Archive bucket", server_side: true,
              action { method: DELETE, url: "http://storage.internal/${id}" } }
        ]
    }
}
"""


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


def loopback_action(receiver, name: str, path: str) -> dict:
    """A server-side action to the loopback receiver, with a secret from the server's configuration."""
    return {"name": name, "server_side": True, "action": {
        "method": "POST", "url": receiver.url(path + "/${id}"), "payload": '{"task": "${id}"}',
        # Keys set through CLEARML__ variables are lower-cased, so the secret's name is too.
        "headers": {"Authorization": "Bearer ${secret.ops_token}", "Content-Type": "application/json"}}}


@pytest.fixture(scope="module")
def configured_server(mongo_server, redis_server, tmp_path_factory, receiver):
    work_dir = tmp_path_factory.mktemp("api-ui-actions-conf")
    (work_dir / "config").mkdir()
    (work_dir / "config" / "services.conf").write_text(SERVICES_CONF)
    task_actions = [BROWSER_ACTION, SERVER_ACTION, loopback_action(receiver, "Ping", "/ping"),
                    loopback_action(receiver, "Ping broken", "/broken")]
    server = start_api(mongo_server.port, work_dir, redis_port=redis_server.port, extra_env={
        "CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__TASK": json.dumps(task_actions),
        "CLEARML__SERVICES__WEBHOOKS__SECRETS__OPS_TOKEN": f'"{OPS_TOKEN}"'})
    yield server
    stop_in_background(server.process)


@pytest.fixture(scope="module")
def configured(configured_server) -> ApiClient:
    return ApiClient(configured_server.url, configured_server.key, configured_server.secret).login()


def test_actions_from_the_environment_and_a_services_conf_file(configured):
    actions = configured.ok("organization.get_ui_actions")
    assert set(actions) == {"project", "task", "model", "queue"} and actions["queue"] == []
    browser, server_side = actions["task"][:2]
    assert browser == {"name": "Open in CI", "tooltip": "open the run", "server_side": False, "action": {
        "method": "POST", "url": "http://127.0.0.1:9/ci/${id}", "payload": {"task": "${id}"},
        "headers": {"Content-Type": "application/json"}}}
    assert server_side == {"name": "Notify ops", "tooltip": "page", "server_side": True, "action": {"method": "POST"}}
    assert actions["model"] == [{"name": "Deploy", "tooltip": "to staging", "server_side": False, "action": {
        "method": "GET", "url": "http://deploy.internal/models/${id}", "payload": None,
        "headers": {"X-From": "trackside"}}}]
    assert actions["project"] == [{"name": "Archive bucket", "tooltip": "", "server_side": True,
                                   "action": {"method": "DELETE"}}]


def test_server_side_requests_never_reach_the_browser(configured):
    for answer in (configured.ok("organization.get_ui_actions"), configured.ok("server.config")["ui_actions"]):
        text = json.dumps(answer)
        assert "10.0.0.5" not in text and "OPS_TOKEN" not in text and "storage.internal" not in text
        assert "/ping" not in text and OPS_TOKEN not in text and "ops_token" not in text
    assert "http://127.0.0.1:9/ci/${id}" in json.dumps(configured.ok("server.config")["ui_actions"])


def test_run_ui_action_refusals(configured):
    project = create_project(configured, unique("ui-actions"))
    reply = configured.error("organization.run_ui_action", (400, 12), type="task", name="Nope", ids=["x"])
    assert "Nope" in reply.meta["result_msg"] and reply.meta["error_data"]["fields"] == ["name"]
    reply = configured.error("organization.run_ui_action", (400, 12), type="task", name="Open in CI", ids=["x"])
    assert "runs in the browser" in reply.meta["result_msg"]
    configured.error("organization.run_ui_action", (400, 101), type="task", name="Notify ops", ids=["0" * 32])
    configured.error("organization.run_ui_action", (400, 401), type="project", name="Archive bucket",
                     ids=[project, "0" * 32])
    configured.error("organization.run_ui_action", (400, 11), type="task", name="Notify ops")
    configured.error("organization.run_ui_action", (400, 11), name="Notify ops", ids=["x"])
    configured.error("organization.run_ui_action", (400, 12), type="dataview", name="Notify ops", ids=["x"])
    configured.error("organization.run_ui_action", (400, 12), type="task", name="Notify ops", ids="x")
    configured.error("organization.run_ui_action", (400, 12), type="task", name="Notify ops", ids=[])


def test_unauthenticated_calls_are_refused(anon):
    for name in ("organization.get_ui_actions", "organization.run_ui_action"):
        assert anon.send(name, {}).code == (401, 20)


def test_nothing_configured_is_four_empty_lists(api):
    assert api.ok("organization.get_ui_actions") == {"project": [], "task": [], "model": [], "queue": []}


@pytest.mark.parametrize("value, problem", [
    ('{"name": "x"}', "ui_actions.queue must be a list"),
    ('[{"tooltip": "t", "action": {"url": "http://x"}}]', "ui_actions.queue[0].name"),
    ('[{"name": "x"}]', "ui_actions.queue[0].action must be an object"),
    ('[{"name": "x", "action": {"method": "FETCH", "url": "http://x"}}]', "ui_actions.queue[0].action.method"),
    ('[{"name": "x", "action": {"method": "GET"}}]', "ui_actions.queue[0].action.url"),
    ('[{"name": "x", "action": {"url": "http://x", "headers": ["a"]}}]', "ui_actions.queue[0].action.headers"),
    ('[{"name": "x", "server_side": "yes", "action": {"url": "http://x"}}]', "ui_actions.queue[0].server_side"),
])
def test_malformed_configuration_is_refused_naming_the_key(value, problem):
    config = load_config({"CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__QUEUE": value,
                          "CLEARML_CONFIG_DIR": ""})
    with pytest.raises(ui_actions.UiActionsConfigError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        ui_actions.read(config)
    with pytest.raises(errors.DataError, match="malformed UI actions configuration"):  # 500/100 from the API
        ui_actions.UiActions(None, None, config).for_browser()


def test_run_ui_action_runs_once_per_id_on_a_webhooks_worker(configured, configured_server, receiver,
                                                             tmp_path_factory):
    """End to end: the API hands the action to a real RQ worker (trackside-webhooks worker), which fills in
    ${id} and the secret and calls the loopback receiver; the results come back per id."""
    stack = WebhooksStack(configured_server, tmp_path_factory.mktemp("ui-actions-worker"))
    stack.work_dir.mkdir(parents=True, exist_ok=True)
    stack.add_worker()
    try:
        tasks = [configured.ok("tasks.create", name=unique("ui"), type="training")["id"] for _ in range(2)]
        results = configured.ok("organization.run_ui_action", type="task", name="Ping", ids=tasks)["results"]
        assert [r["id"] for r in results] == tasks, stack.logs()
        assert all(r["ok"] and r["status_code"] == 200 and r["error"] is None for r in results), [r["error"] for r in results]
        received = {r.path: r for r in receiver.at(f"/ping/{tasks[0]}") + receiver.at(f"/ping/{tasks[1]}")}
        assert set(received) == {f"/ping/{t}" for t in tasks}
        first = received[f"/ping/{tasks[0]}"]
        assert first.json() == {"task": tasks[0]} and first.headers["authorization"] == f"Bearer {OPS_TOKEN}"

        receiver.plan(f"/broken/{tasks[0]}", [503])
        failed = configured.ok("organization.run_ui_action", type="task", name="Ping broken", ids=[tasks[0]])
        assert failed["results"][0]["ok"] is False and failed["results"][0]["status_code"] == 503
        assert OPS_TOKEN not in json.dumps(failed) and OPS_TOKEN not in stack.logs()
    finally:
        stack.stop()
