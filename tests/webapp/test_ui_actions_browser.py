"""Custom context-menu actions (services.organization.ui_actions) in a real Chromium: configured through the
dynamic environment (CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__<TYPE> holding a JSON list), they appear in
the right-click menu of task and model rows, the menu button of the task and model pages and of project
cards; the browser sends the request to a loopback receiver with the id substituted and a toast tells the
outcome (success with the status; failure on a 500 and on a port nobody listens on); a multi-selection sends
one request per selected task; a `server_side` action runs on a real webhooks RQ worker, with a secret from the
server's configuration that the browser never sees."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from support.browser import new_page, sign_in_page
from support.waiting import wait_for
from support.webapp import start_webapp_stack
from support.webhooks import WebhooksStack
from support.webapp_data import admin_client, make_model, make_project, make_queue, make_task, unique
from trackside.shared.embedded.process import free_port


SERVER_SECRET = "tok-" + "9f2c4e1d7b"  # only the API's and the worker's configuration hold it


class Receiver:
    """A tiny HTTP target on loopback: answers CORS (preflight included), 500 under /fail/, 200 elsewhere,
    and records every non-preflight request as {method, path, body, headers}."""

    def __init__(self):
        self.requests: list[dict] = []
        self.preflights: list[dict] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet test output
                pass

            def _cors(self):
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE")
                self.send_header("Access-Control-Allow-Headers",
                                 self.headers.get("Access-Control-Request-Headers") or "*")

            def do_OPTIONS(self):
                with receiver._lock:
                    receiver.preflights.append({"path": self.path, "headers": dict(self.headers)})
                self.send_response(204)
                self._cors()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                with receiver._lock:
                    receiver.requests.append({"method": self.command, "path": self.path, "body": body,
                                              "headers": {k.lower(): v for k, v in self.headers.items()}})
                status = 500 if self.path.startswith("/fail/") else 200
                self.send_response(status)
                self._cors()
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = do_PUT = do_DELETE = _record

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self, prefix: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"].startswith(prefix)]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    target = Receiver()
    yield target
    target.stop()


@pytest.fixture(scope="module")
def actions_stack(mongo_server, redis_server, tmp_path_factory, receiver):
    """A web app stack whose API has task, model and project actions configured through the environment."""
    dead_port = free_port()  # nobody listens there: the browser's request fails to connect
    task_actions = [
        {"name": "Notify receiver", "tooltip": "Tell the loopback receiver about this task",
         "action": {"method": "POST", "url": receiver.url + "/ok/task/${id}",
                    "payload": '{"task": "${id}", "source": "trackside"}',
                    "headers": {"Content-Type": "application/json", "X-Task-Id": "${id}"}}},
        {"name": "Broken hook", "action": {"method": "POST", "url": receiver.url + "/fail/${id}"}},
        {"name": "Unreachable hook", "action": {"method": "GET", "url": f"http://127.0.0.1:{dead_port}/x/${{id}}"}},
        # Performed by the webhooks worker: the token comes from services.webhooks.secrets, on the server
        # (named in lower case: the environment's configuration keys are lower-cased).
        {"name": "Server notify", "server_side": True,
         "action": {"method": "POST", "url": receiver.url + "/ok/server/${id}", "payload": '{"task": "${id}"}',
                    "headers": {"Authorization": "Bearer ${secret.hook_token}"}}},
        {"name": "Server broken", "server_side": True, "action": {"method": "POST", "url": receiver.url + "/fail/server/${id}"}},
    ]
    env = {
        "CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__TASK": json.dumps(task_actions),
        "CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__MODEL": json.dumps([
            {"name": "Register model", "tooltip": "Send the model to the registry",
             "action": {"method": "PUT", "url": receiver.url + "/ok/model/${id}"}}]),
        "CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__PROJECT": json.dumps([
            {"name": "Archive project remotely", "action": {"method": "DELETE", "url": receiver.url + "/ok/project/${id}"}}]),
        "CLEARML__SERVICES__ORGANIZATION__UI_ACTIONS__QUEUE": json.dumps([
            {"name": "Scale up", "tooltip": "Add a machine for this queue",
             "action": {"method": "POST", "url": receiver.url + "/ok/queue/${id}"}}]),
        "CLEARML__SERVICES__WEBHOOKS__SECRETS__HOOK_TOKEN": json.dumps(SERVER_SECRET),
    }
    stack = start_webapp_stack(mongo_server.port, redis_server.port, tmp_path_factory.mktemp("ui-actions"),
                               extra_api_env=env)
    yield stack
    stack.stop_in_background()


@pytest.fixture(scope="module")
def webhooks_worker(actions_stack, tmp_path_factory):
    """One webhooks RQ worker (no stream consumer: server-side actions need only the worker)."""
    stack = WebhooksStack(actions_stack.api, tmp_path_factory.mktemp("ui-actions-worker"))
    stack.add_worker()
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def objects(actions_stack):
    api = admin_client(actions_stack)
    name = unique("Actions")
    project = make_project(api, name)
    tasks = {n: make_task(api, project, n, "completed") for n in ("alpha", "beta", "gamma")}
    model = make_model(api, project, "classifier", framework="PyTorch")
    queue_name = unique("actions-queue")
    queue = make_queue(api, queue_name)
    return {"project": project, "project_name": name, "tasks": tasks, "model": model,
            "queue": queue, "queue_name": queue_name}


@pytest.fixture
def page(browser, actions_stack):
    page = new_page(browser, actions_stack.url)
    sign_in_page(page, actions_stack.admin_user, actions_stack.admin_password)
    yield page
    page.context.close()


def task_row(page, name):
    return page.get_by_role("table", name="Tasks").get_by_role("row").filter(has_text=name)


def toast(page, text):
    return page.locator("#toasts .toast").filter(has_text=text)


def test_task_row_menu_runs_the_action_in_the_browser(page, objects, receiver, shot):
    page.goto(f"/projects/{objects['project']}/tasks")
    alpha = objects["tasks"]["alpha"]
    task_row(page, "alpha").locator("td[data-col=status]").click(button="right")
    menu = page.get_by_role("menu", name="Actions")
    expect(menu.get_by_role("menuitem", name="Notify receiver")).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Notify receiver")).to_have_attribute(
        "title", "Tell the loopback receiver about this task")
    expect(menu.get_by_role("menuitem", name="Archive")).to_be_enabled()  # the row's own actions come first
    expect(menu.get_by_role("menuitem", name="Abort")).to_be_disabled()
    expect(menu.get_by_role("menuitem", name="Reset")).to_be_focused()  # the first enabled item
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="Publish")).to_be_focused()
    shot(page, "ui-actions-task-row-menu")

    page.keyboard.press("Escape")  # closes, nothing runs
    expect(menu).to_have_count(0)
    checkbox = task_row(page, "alpha").get_by_role("checkbox")
    checkbox.focus()
    page.keyboard.press("Shift+F10")  # the keyboard's way to a context menu
    expect(menu.get_by_role("menuitem", name="Notify receiver")).to_be_visible()
    page.keyboard.press("Escape")
    expect(checkbox).to_be_focused()

    task_row(page, "alpha").locator("td[data-col=status]").click(button="right")
    menu.get_by_role("menuitem", name="Notify receiver").click()
    expect(menu).to_have_count(0)
    expect(toast(page, '"Notify receiver" succeeded (HTTP 200)')).to_be_visible()
    shot(page, "ui-actions-task-success-toast")
    [request] = wait_for(lambda: receiver.received(f"/ok/task/{alpha}"), what="the action's request")
    assert request["method"] == "POST"
    assert json.loads(request["body"]) == {"task": alpha, "source": "trackside"}
    assert request["headers"]["x-task-id"] == alpha
    assert request["headers"]["content-type"] == "application/json"
    assert "cookie" not in request["headers"]  # the app's session never leaves for the target
    assert any(p["path"] == f"/ok/task/{alpha}" for p in receiver.preflights)  # a real cross-origin request


def test_failing_targets_show_failure_toasts(page, objects, receiver, shot):
    page.goto(f"/projects/{objects['project']}/tasks")
    beta = objects["tasks"]["beta"]
    menu = page.get_by_role("menu", name="Actions")
    task_row(page, "beta").locator("td[data-col=status]").click(button="right")
    menu.get_by_role("menuitem", name="Broken hook").click()
    expect(toast(page, '"Broken hook" failed: HTTP 500')).to_be_visible()
    assert wait_for(lambda: receiver.received(f"/fail/{beta}"), what="the failing request")

    task_row(page, "beta").locator("td[data-col=status]").click(button="right")
    menu.get_by_role("menuitem", name="Unreachable hook").click()
    failure = toast(page, '"Unreachable hook" failed: could not reach 127.0.0.1')
    expect(failure).to_be_visible()
    expect(failure).to_have_attribute("role", "alert")
    shot(page, "ui-actions-failure-toasts")


def test_multi_selection_sends_one_request_per_task(page, objects, receiver, shot):
    page.goto(f"/projects/{objects['project']}/tasks")
    table = page.get_by_role("table", name="Tasks")
    for name in ("alpha", "beta", "gamma"):
        table.get_by_role("checkbox", name=f"Select {name}").check()
    task_row(page, "gamma").locator("td[data-col=status]").click(button="right")
    menu = page.get_by_role("menu", name="Actions")
    expect(menu.get_by_role("menuitem", name="Archive (3 of 3)")).to_be_visible()
    before = {t: len(receiver.received(f"/ok/task/{t}")) for t in objects["tasks"].values()}
    shot(page, "ui-actions-multi-selection-menu")
    menu.get_by_role("menuitem", name="Notify receiver (3)").click()
    expect(toast(page, '"Notify receiver": 3 of 3 succeeded')).to_be_visible()
    for task in objects["tasks"].values():
        wait_for(lambda: len(receiver.received(f"/ok/task/{task}")) == before[task] + 1,
                 what=f"one request for {task}")


def test_task_page_menu_holds_the_custom_actions(page, objects, receiver, shot):
    gamma = objects["tasks"]["gamma"]
    page.goto(f"/projects/{objects['project']}/tasks/{gamma}/execution")
    page.get_by_role("button", name=re.compile("^Task actions")).click()
    menu = page.get_by_role("menu", name="Task actions")
    expect(menu.get_by_role("menuitem", name="Notify receiver")).to_be_visible()
    shot(page, "ui-actions-task-page-menu")
    count = len(receiver.received(f"/ok/task/{gamma}"))
    menu.get_by_role("menuitem", name="Notify receiver").click()
    expect(toast(page, '"Notify receiver" succeeded (HTTP 200)')).to_be_visible()
    wait_for(lambda: len(receiver.received(f"/ok/task/{gamma}")) == count + 1, what="the task page's request")


def test_model_and_project_actions(page, objects, receiver, shot):
    model = objects["model"]
    page.goto(f"/projects/{objects['project']}/models")
    page.get_by_role("table", name="Models").get_by_role("row").filter(has_text="classifier") \
        .locator("td[data-col=ready]").click(button="right")
    menu = page.get_by_role("menu", name="Actions")
    expect(menu.get_by_role("menuitem", name="Publish")).to_be_enabled()
    expect(menu.get_by_role("menuitem", name="Notify receiver")).to_have_count(0)  # a task action
    shot(page, "ui-actions-model-row-menu")
    menu.get_by_role("menuitem", name="Register model").click()
    expect(toast(page, '"Register model" succeeded (HTTP 200)')).to_be_visible()
    [request] = wait_for(lambda: receiver.received(f"/ok/model/{model}"), what="the model row's request")
    assert request["method"] == "PUT"

    page.goto(f"/projects/{objects['project']}/models/{model}/general")
    page.get_by_role("button", name=re.compile("^Model actions")).click()
    page.get_by_role("menu", name="Model actions").get_by_role("menuitem", name="Register model").click()
    wait_for(lambda: len(receiver.received(f"/ok/model/{model}")) == 2, what="the model page's request")

    page.goto("/projects")
    name = objects["project_name"]
    page.get_by_role("button", name=f"Actions for {name}").click()
    card_menu = page.get_by_role("menu", name=f"Actions for {name}")
    expect(card_menu.get_by_role("menuitem", name="Archive project remotely")).to_be_visible()
    shot(page, "ui-actions-project-card-menu")
    card_menu.get_by_role("menuitem", name="Archive project remotely").click()
    expect(toast(page, '"Archive project remotely" succeeded (HTTP 200)')).to_be_visible()
    [request] = wait_for(lambda: receiver.received(f"/ok/project/{objects['project']}"), what="the project request")
    assert request["method"] == "DELETE"


def test_queue_row_menus_hold_the_queue_actions(page, objects, receiver, shot):
    name, queue = objects["queue_name"], objects["queue"]
    page.goto("/workers-and-queues/queues")
    row = page.get_by_role("table", name="Queues").locator("tbody tr").filter(has_text=name)
    row.click(button="right")
    menu = page.get_by_role("menu")
    expect(menu.get_by_role("menuitem")).to_have_text(["Rename", "Clear", "Delete", "Scale up"])
    shot(page, "ui-actions-queue-row-menu")
    menu.get_by_role("menuitem", name="Scale up").click()
    expect(toast(page, '"Scale up" succeeded (HTTP 200)')).to_be_visible()
    [request] = wait_for(lambda: receiver.received(f"/ok/queue/{queue}"), what="the queue row's request")
    assert request["method"] == "POST"
    row.get_by_role("button", name=f"Actions for {name}").click()
    expect(page.get_by_role("menu").get_by_role("menuitem", name="Scale up")).to_be_visible()


def test_server_side_action_runs_on_the_webhooks_worker(page, objects, receiver, webhooks_worker, shot):
    page.goto(f"/projects/{objects['project']}/tasks")
    # What the browser is told of a server-side action: its name and method, not where it goes or its secret.
    told = page.evaluate("""async () => (await (await fetch('/api/organization.get_ui_actions', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-CSRF-Token': document.cookie.match(/trackside_csrf=([^;]+)/)[1]},
        body: '{}'})).text())""")
    assert "Server notify" in told and "/ok/server/" not in told and SERVER_SECRET not in told

    table = page.get_by_role("table", name="Tasks")
    for name in ("alpha", "beta"):
        table.get_by_role("checkbox", name=f"Select {name}").check()
    task_row(page, "beta").locator("td[data-col=status]").click(button="right")
    page.get_by_role("menu", name="Actions").get_by_role("menuitem", name="Server notify (2)").click()
    expect(toast(page, '"Server notify": 2 of 2 succeeded')).to_be_visible(timeout=40000)
    for name in ("alpha", "beta"):
        task = objects["tasks"][name]
        [request] = wait_for(lambda: receiver.received(f"/ok/server/{task}"), what=f"the worker's request for {name}")
        assert request["method"] == "POST" and json.loads(request["body"]) == {"task": task}
        assert request["headers"]["authorization"] == f"Bearer {SERVER_SECRET}"
    shot(page, "ui-actions-server-side-toast")

    table.get_by_role("checkbox", name="Select alpha").uncheck()
    task_row(page, "beta").locator("td[data-col=status]").click(button="right")
    page.get_by_role("menu", name="Actions").get_by_role("menuitem", name="Server broken").click()
    expect(toast(page, '"Server broken" failed: HTTP 500')).to_be_visible(timeout=40000)
