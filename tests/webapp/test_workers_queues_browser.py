"""The workers and queues pages in a real Chromium: a registered worker with machine statistics in the table
(queue, running task linked to its console) with its charts and the utilisation chart, refreshed live; a
queue's tasks reordered by dragging, by the Move up/down buttons and by the menu (front, back, another queue,
remove), each order read back through queues.get_by_id, a drag held across a refresh; queues created, renamed,
cleared and deleted (forced when not empty) from the row menu and the right-click menu; our real agent daemon
with its own statistics; polling stops when the page is left."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from support.our_agent import AgentHome
from support.waiting import wait_for
from support.webapp_data import admin_client, make_project, make_queue, make_task, unique

WORKER_TIMEOUT_SEC = 900  # the worker stays listed for the whole module
STATS_MINUTES = 20


@pytest.fixture(scope="module")
def data(webapp_stack):
    """A queue with 5 queued tasks and an empty second queue; a worker on the first queue running a task,
    with 20 minutes of machine statistics (a report every 30 s, as an agent sends them)."""
    api = admin_client(webapp_stack)
    project = make_project(api, unique("Orchestration"))
    main_q, spare_q = unique("gpu-queue"), unique("spare-queue")
    main_id, spare_id = make_queue(api, main_q), make_queue(api, spare_q)
    tasks = [make_task(api, project, f"queued-{i}", "queued", queue=main_id) for i in range(5)]
    running = make_task(api, project, unique("training-run"), "in_progress")
    worker = unique("gpu-box")
    api.ok("workers.register", worker=worker, queues=[main_id], timeout=WORKER_TIMEOUT_SEC)
    now_ms = int(time.time() * 1000)
    for report in range(STATS_MINUTES * 2, 0, -1):  # every 30 s, the agent's interval
        api.ok("workers.status_report", worker=worker, timestamp=now_ms - report * 30_000, task=running,
               queue=main_id, machine_stats={
                   "cpu_usage": [40.0, 45.0], "gpu_usage": [90.0], "memory_used": 2048.0 + report,
                   "gpu_memory_used": [10240.0], "network_rx": 1.5, "network_tx": 0.5})
    yield {"api": api, "project": project, "main": main_q, "main_id": main_id, "spare": spare_q,
           "spare_id": spare_id, "tasks": tasks, "running": running, "worker": worker}
    api.ok("workers.unregister", worker=worker)  # other modules share this API


@pytest.fixture(scope="module")
def agent(data, webapp_stack, tmp_path_factory):
    """Our agent's daemon, idle on a queue of its own, reporting every second; started with the module so
    its statistics are charted (a 40 s bucket is drawn once complete) by the time the last test looks."""
    api, queue = data["api"], unique("agent-queue")
    make_queue(api, queue)
    home = AgentHome.create(tmp_path_factory.mktemp("agent"), webapp_stack.api, {"status_report_interval_sec": 1})
    daemon = home.start_daemon("--queue", queue)
    yield {"daemon": daemon, "queue": queue}
    daemon.stop()


def queue_order(api, queue_id):
    return [e["task"] for e in api.ok("queues.get_by_id", queue=queue_id)["queue"]["entries"]]


def entries(page):
    return page.locator("ol.queue-entries > li")


def entry_names(page):
    return [text.strip() for text in entries(page).locator(".entry-name").all_inner_texts()]


def wait_order(api, queue_id, expected, what):
    wait_for(lambda: queue_order(api, queue_id) == expected, timeout=10, what=what)


def chart_traces(page, chart_id):
    """The figure's traces (name, y values) once drawn."""
    plot = page.locator(f"[data-chart={chart_id}] .stats-plot")
    expect(plot).to_have_attribute("data-drawn", "true")
    return plot.evaluate("el => el.data.map(t => ({name: t.name, y: Array.from(t.y)}))")


# -- workers ---------------------------------------------------------------------------------------------
def test_a_reporting_worker_with_its_task_queues_and_charts(page, data, agent, shot):
    page.goto("/workers-and-queues/workers")
    table = page.get_by_role("table", name="Workers")
    row = table.locator("tbody tr").filter(has_text=data["worker"])
    expect(row).to_have_count(1)
    expect(row.get_by_role("link", name=data["main"])).to_have_attribute(
        "href", f"/workers-and-queues/queues?id={data['main_id']}")
    expect(row.locator("td[data-col=task] a")).to_have_attribute(
        "href", f"/projects/{data['project']}/tasks/{data['running']}/output/log")
    expect(row.locator("td[data-col=last_activity]")).to_have_text(re.compile(r"just now|ago"))
    # Utilisation: 1 worker reporting, running a task, over the last 20 minutes.
    activity = chart_traces(page, "activity")
    assert [t["name"] for t in activity] == ["Total", "Active"]
    assert max(activity[0]["y"]) >= 1 and max(activity[1]["y"]) >= 1

    row.locator("td[data-col=name]").click()
    expect(page).to_have_url(re.compile(rf"\?id={data['worker']}$"))
    expect(row).to_have_attribute("aria-selected", "true")
    detail = page.get_by_role("region", name="Selected worker")
    expect(detail.get_by_role("heading", name=data["worker"])).to_be_visible()
    usage = chart_traces(page, "worker-usage")
    assert [t["name"] for t in usage] == ["CPU", "GPU"]
    assert 42.5 in usage[0]["y"] and 90 in usage[1]["y"]  # the cores' average; the GPU
    network = chart_traces(page, "worker-network")
    assert [t["name"] for t in network] == ["Receive", "Transmit"] and 1.5 in network[0]["y"]
    assert 10240 in chart_traces(page, "worker-gpu-memory")[0]["y"]
    shot(page, "workers")

    # Live: a worker that registers now appears without a reload, and the selection stays.
    late = unique("late-box")
    data["api"].ok("workers.register", worker=late, queues=[data["spare_id"]], timeout=WORKER_TIMEOUT_SEC)
    expect(table.locator("tbody tr").filter(has_text=late)).to_have_count(1, timeout=12000)
    expect(row).to_have_attribute("aria-selected", "true")
    data["api"].ok("workers.unregister", worker=late)

    page.set_viewport_size({"width": 800, "height": 900})
    expect(detail).to_be_visible()
    shot(page, "workers-narrow")


# -- queues: the order of a queue ------------------------------------------------------------------------
def test_reorder_a_queue_by_dragging(page, data, shot):
    api, queue_id, tasks = data["api"], data["main_id"], data["tasks"]
    page.goto(f"/workers-and-queues/queues?id={queue_id}")
    expect(entries(page)).to_have_count(5)
    assert entry_names(page) == [f"queued-{i}" for i in range(5)]
    # queued-0 dropped on queued-2 takes its place; then queued-4 dropped on queued-1 (upwards).
    entries(page).nth(0).drag_to(entries(page).nth(2))
    wait_order(api, queue_id, [tasks[1], tasks[2], tasks[0], tasks[3], tasks[4]], "the dragged order")
    expect(entries(page).nth(2)).to_contain_text("queued-0")
    entries(page).nth(4).drag_to(entries(page).nth(0))
    wait_order(api, queue_id, [tasks[4], tasks[1], tasks[2], tasks[0], tasks[3]], "the second dragged order")
    expect(entries(page).nth(0)).to_contain_text("queued-4")
    shot(page, "queues-reordered")

    # A drag in progress outlives the 5 s refresh, even one that brings a newly queued task.
    def centre(index):
        box = entries(page).nth(index).bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(*centre(3))
    page.mouse.down()
    page.mouse.move(*centre(2), steps=4)
    late = make_task(api, data["project"], "queued-late", "queued", queue=queue_id)
    page.wait_for_timeout(5500)
    expect(entries(page).nth(3)).to_have_class(re.compile("dragging"))
    page.mouse.move(*centre(1), steps=4)
    page.mouse.up()
    wait_order(api, queue_id, [tasks[4], tasks[0], tasks[1], tasks[2], tasks[3], late], "the order after a long drag")
    expect(entries(page)).to_have_count(6)  # the refresh after the drop shows the new task
    assert entry_names(page) == ["queued-4", "queued-0", "queued-1", "queued-2", "queued-3", "queued-late"]
    api.ok("queues.remove_task", queue=queue_id, task=late, update_task_status=True)


def test_move_up_down_front_back_to_another_queue_and_remove(page, data, shot):
    api, queue_id, spare_id = data["api"], data["main_id"], data["spare_id"]
    page.goto(f"/workers-and-queues/queues?id={queue_id}")
    expect(entries(page)).to_have_count(5)
    order = queue_order(api, queue_id)
    names = entry_names(page)

    # Keyboard and buttons: Move up keeps focus on the moved task's button.
    page.get_by_role("button", name=f"Move {names[2]} up").click()
    order[1], order[2] = order[2], order[1]
    wait_order(api, queue_id, order, "moved up")
    expect(page.get_by_role("button", name=f"Move {names[2]} up")).to_be_focused()
    page.keyboard.press("Enter")  # again, from the keyboard
    order[0], order[1] = order[1], order[0]
    wait_order(api, queue_id, order, "moved up by keyboard")
    page.get_by_role("button", name=f"Move {names[2]} down").click()
    order[0], order[1] = order[1], order[0]
    wait_order(api, queue_id, order, "moved down")

    last = entry_names(page)[-1]
    page.get_by_role("button", name=f"Actions for task {last}").click()
    page.get_by_role("menuitem", name="Move to front").click()
    order = [order[-1]] + order[:-1]
    wait_order(api, queue_id, order, "moved to the front")
    first = entry_names(page)[0]
    page.get_by_role("button", name=f"Actions for task {first}").click()
    page.get_by_role("menuitem", name="Move to back").click()
    order = order[1:] + [order[0]]
    wait_order(api, queue_id, order, "moved to the back")
    shot(page, "queues-task-menu-done")

    # To the spare queue (still queued there), then out of it (back to draft).
    moved_name = entry_names(page)[0]
    page.get_by_role("button", name=f"Actions for task {moved_name}").click()
    page.get_by_role("menuitem", name="Move to queue…").click()
    dialog = page.get_by_role("dialog", name=f'Move "{moved_name}" to queue')
    dialog.get_by_label("Queue").select_option(label=data["spare"])
    dialog.get_by_role("button", name="Move").click()
    moved = order.pop(0)
    wait_order(api, queue_id, order, "left for the other queue")
    wait_order(api, spare_id, [moved], "queued in the other queue")
    task = api.ok("tasks.get_by_id", task=moved)["task"]
    assert task["status"] == "queued" and task["execution"]["queue"] == spare_id

    page.goto(f"/workers-and-queues/queues?id={spare_id}")
    page.get_by_role("button", name=f"Actions for task {moved_name}").click()
    page.get_by_role("menuitem", name="Remove from queue").click()
    expect(page.get_by_text("No tasks are queued")).to_be_visible()
    assert queue_order(api, spare_id) == []
    assert api.ok("tasks.get_by_id", task=moved)["task"]["status"] == "created"


# -- queues: create, rename, clear, delete ---------------------------------------------------------------
def queue_row(page, name):
    return page.get_by_role("table", name="Queues").locator("tbody tr").filter(has_text=name)


def test_create_rename_clear_and_delete_queues(page, data, shot):
    api = data["api"]
    page.goto("/workers-and-queues/queues")
    expect(queue_row(page, data["main"])).to_have_count(1)
    expect(queue_row(page, data["main"]).locator("td[data-col=workers]")).to_have_text("1")
    page.get_by_role("button", name="New queue").click()
    dialog = page.get_by_role("dialog", name="New queue")
    for value, message in [("", "Name is required"), ("ab", "Name should contain at least 3 characters"),
                           (data["main"], "Name should be unique")]:
        dialog.get_by_label("Name", exact=True).fill(value)
        dialog.get_by_role("button", name="Create").click()
        expect(dialog.get_by_role("alert")).to_have_text(message)
    name = unique("cpu-queue")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    expect(queue_row(page, name)).to_have_attribute("aria-selected", "true")
    found = api.ok("queues.get_all", name=f"^{name}$")["queues"]
    assert len(found) == 1
    queue_id = found[0]["id"]
    expect(page).to_have_url(re.compile(rf"\?id={queue_id}$"))

    # Rename from the row's menu button.
    renamed = unique("cpu-queue-renamed")
    page.get_by_role("table", name="Queues").get_by_role("button", name=f"Actions for {name}").click()
    page.get_by_role("menuitem", name="Rename").click()
    dialog = page.get_by_role("dialog", name="Rename queue")
    dialog.get_by_label("Name", exact=True).fill(renamed)
    dialog.get_by_role("button", name="Save").click()
    expect(queue_row(page, renamed)).to_have_count(1)
    assert api.ok("queues.get_by_id", queue=queue_id)["queue"]["name"] == renamed

    # Right-click: the same menu. Clear a queue holding two tasks, then delete it.
    tasks = [make_task(api, data["project"], f"to-clear-{i}", "queued", queue=queue_id) for i in range(2)]
    expect(queue_row(page, renamed).locator("td[data-col=length]")).to_have_text("2", timeout=12000)
    queue_row(page, renamed).click(button="right")
    menu = page.get_by_role("menu")
    expect(menu.get_by_role("menuitem")).to_have_text(["Rename", "Clear", "Delete"])
    shot(page, "queues-context-menu")
    menu.get_by_role("menuitem", name="Clear").click()
    page.get_by_role("dialog", name="Clear all pending tasks").get_by_role("button", name="Clear queue").click()
    expect(queue_row(page, renamed).locator("td[data-col=length]")).to_have_text("0")
    assert all(api.ok("tasks.get_by_id", task=t)["task"]["status"] == "created" for t in tasks)

    # Delete a queue that holds a task: the confirmation says so, and it is forced.
    api.ok("tasks.enqueue", task=tasks[0], queue=queue_id)
    expect(queue_row(page, renamed).locator("td[data-col=length]")).to_have_text("1", timeout=12000)
    queue_row(page, renamed).click(button="right")
    page.get_by_role("menu").get_by_role("menuitem", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete queue")
    expect(confirm).to_contain_text("It holds 1 queued task")
    shot(page, "queues-delete-confirm")
    confirm.get_by_role("button", name="Delete").click()
    expect(queue_row(page, renamed)).to_have_count(0)
    assert not api.ok("queues.get_all", name=f"^{renamed}$")["queues"]
    assert api.ok("tasks.get_by_id", task=tasks[0])["task"]["status"] == "created"
    expect(page).to_have_url(re.compile(r"/workers-and-queues/queues$"))


def test_queue_charts_narrow_window_and_polling_stops_on_leaving(page, data, shot):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"/workers-and-queues/queues?id={data['main_id']}")
    length = chart_traces(page, "queue-length")
    assert length[0]["y"] and max(length[0]["y"]) >= 4
    chart_traces(page, "queue-wait")
    expect(page.get_by_role("heading", name=f"Queue {data['main']}")).to_be_visible()
    shot(page, "queues")
    page.set_viewport_size({"width": 800, "height": 900})
    expect(entries(page).first).to_be_visible()
    shot(page, "queues-narrow")

    # Leaving the page stops its polling; the workers page polls its own.
    calls = []
    page.on("request", lambda request: calls.append(request.url.rsplit("/", 1)[-1]))
    page.get_by_role("navigation", name="Workers and queues").get_by_role("link", name="Workers").click()
    expect(page.get_by_role("heading", name="Workers", exact=True)).to_be_visible()
    page.wait_for_timeout(5500)
    assert "queues.get_all_ex" not in calls and calls.count("workers.get_all") >= 2
    assert not errors


def test_a_real_agent_daemon_with_its_machine_statistics(page, data, agent, shot):
    """The shapes the page reads are the ones a real worker sends (memory in MiB, per-core CPU, rates)."""
    api, queue = data["api"], agent["queue"]
    worker = wait_for(lambda: next((w["id"] for w in api.ok("workers.get_all")["workers"]
                                    if any(q["name"] == queue for q in w["queues"])), None),
                      timeout=60, what="the agent to register")
    wait_for(lambda: api.ok("workers.get_stats", worker_ids=[worker], from_date=time.time() - 600,
                            to_date=time.time(), interval=1, items=[{"key": "memory_used"}])["workers"],
             timeout=100, what="the agent's first complete 40 s of statistics")
    page.goto(f"/workers-and-queues/workers?id={worker}")
    row = page.get_by_role("table", name="Workers").locator("tbody tr").filter(has_text=worker)
    expect(row).to_have_attribute("aria-selected", "true")
    expect(row.get_by_role("link", name=queue)).to_be_visible()
    memory = chart_traces(page, "worker-memory")
    assert any(v and v > 0 for v in memory[0]["y"])  # MiB in use, never drawn as 0
    assert chart_traces(page, "worker-usage")[0]["name"] == "CPU"
    shot(page, "workers-real-agent")
