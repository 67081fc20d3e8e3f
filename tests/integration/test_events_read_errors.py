"""Event reading endpoints refuse bad requests with the reference's codes: unknown tasks (400/101) and models
(400/201), missing fields (400/11), wrong types and values (400/12), bad scroll ids (400/1104), no token (401).
The project endpoint reading metric names is here too. Checked on the MongoDB backend only: the checks happen
before the events store is asked."""
from __future__ import annotations

import uuid

import pytest

from support.event_reports import add_batch, scalar
from support.names import unique
from support.objects import create_project

UNKNOWN = uuid.uuid4().hex

# endpoint -> (a valid body naming task id TASK, a required field, a field to give the wrong type)
# (an integer given as digits in a string is taken, as the reference takes it)
TASK = "{task}"
ENDPOINTS = {
    "events.scalar_metrics_iter_histogram": ({"task": TASK}, "task", ("samples", "many")),
    "events.multi_task_scalar_metrics_iter_histogram": ({"tasks": [TASK]}, "tasks", ("tasks", 5)),
    "events.get_task_single_value_metrics": ({"tasks": [TASK]}, "tasks", ("model_events", "perhaps")),
    "events.get_task_latest_scalar_values": ({"task": TASK}, "task", ("task", 5)),
    "events.get_scalar_metric_data": ({"task": TASK, "metric": "m"}, "metric", ("metric", [1])),
    "events.get_task_log": ({"task": TASK}, "task", ("batch_size", "ten")),
    "events.get_task_events": ({"task": TASK}, "task", ("order", "sideways")),
    "events.get_task_plots": ({"task": TASK}, "task", ("iters", 1.5)),
    "events.get_multi_task_plots": ({"tasks": [TASK]}, "tasks", ("iters", "x")),
    "events.plots": ({"metrics": [{"task": TASK}]}, "metrics", ("metrics", "conf")),
    "events.debug_images": ({"metrics": [{"task": TASK}]}, "metrics", ("iters", 0)),
    "events.get_debug_image_sample": ({"task": TASK, "metric": "m", "variant": "v"}, "variant", ("iteration", "one")),
    "events.get_plot_sample": ({"task": TASK, "metric": "m"}, "metric", ("navigate_current_metric", "maybe")),
    "events.get_task_metrics": ({"tasks": [TASK], "event_type": "plot"}, "event_type", ("event_type", "pie")),
    "events.get_scalar_metrics_and_variants": ({"task": TASK}, "task", ("model_events", 3)),
    "events.get_vector_metrics_and_variants": ({"task": TASK}, "task", ("task", {})),
    "events.vector_metrics_iter_histogram": ({"task": TASK, "metric": "m", "variant": "v"}, "variant",
                                             ("metric", 1)),
    "events.delete_for_task": ({"task": TASK}, "task", ("allow_locked", "sure")),
}


def body(template: dict, task: str) -> dict:
    def fill(value):
        if value == TASK:
            return task
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value
    return fill(template)


@pytest.fixture(scope="module")
def task(api_server) -> str:
    from support.client import ApiClient
    client = ApiClient(api_server.url, api_server.key, api_server.secret).login()
    project = create_project(client, unique("events-errors"))
    task_id = client.ok("tasks.create", name=unique("t"), type="training", project=project)["id"]
    add_batch(client, [scalar(task_id, "m", "v", 1, 1.0)])
    return task_id


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_unknown_task(api, name):
    template, _, _ = ENDPOINTS[name]
    api.error(name, (400, 101), **body(template, UNKNOWN))


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_missing_field(api, task, name):
    template, required, _ = ENDPOINTS[name]
    data = body(template, task)
    del data[required]
    reply = api.error(name, (400, 11), **data)
    assert required in reply.meta["result_msg"]


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_wrong_type(api, task, name):
    template, _, (field, value) = ENDPOINTS[name]
    api.error(name, (400, 12), **{**body(template, task), field: value})


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_no_token(anon, task, name):
    template, _, _ = ENDPOINTS[name]
    reply = anon.send(name, body(template, task))
    assert reply.status == 401 and reply.code == (401, 20) and reply.data == {}


def test_unknown_model(api):
    api.error("events.scalar_metrics_iter_histogram", (400, 201), task=UNKNOWN, model_events=True)
    api.error("events.get_task_events", (400, 201), task=UNKNOWN, model_events=True)
    api.error("events.delete_for_model", (400, 201), model=UNKNOWN)


def test_one_unknown_task_among_known_ones(api, task):
    reply = api.error("events.multi_task_scalar_metrics_iter_histogram", (400, 101), tasks=[task, UNKNOWN])
    assert UNKNOWN in reply.meta["result_msg"]
    api.error("events.get_task_single_value_metrics", (400, 101), tasks=[task, UNKNOWN])


def test_other_companies_tasks_are_unknown(api, task):
    """Ids are looked up within the caller's company: a task id from elsewhere reads as unknown."""
    api.error("events.get_task_log", (400, 101), task=uuid.uuid4().hex)


@pytest.mark.parametrize("name, extra", [
    ("events.get_task_events", {}),
    ("events.get_scalar_metric_data", {"metric": "m"}),
    ("events.debug_images", None),
    ("events.next_debug_image_sample", {}),
    ("events.next_plot_sample", {}),
])
@pytest.mark.parametrize("scroll_id", ["nonsense", "ts1.e30", "ts1.!!!", "ts1." + "eyJrIjoicGxvdHMifQ"])
def test_invalid_scroll_ids(api, task, name, extra, scroll_id):
    data = {"metrics": [{"task": task}]} if extra is None else {"task": task, **extra}
    api.error(name, (400, 1104), scroll_id=scroll_id, **data)


def test_scroll_id_of_another_task(api, task):
    sample = api.ok("events.get_plot_sample", task=task, metric="m")
    other = api.ok("tasks.create", name=unique("t"), type="training")["id"]
    api.error("events.next_plot_sample", (400, 1104), task=other, scroll_id=sample["scroll_id"])
    api.error("events.get_plot_sample", (400, 1104), task=task, metric="other", scroll_id=sample["scroll_id"])


def test_values_out_of_range(api, task):
    api.error("events.scalar_metrics_iter_histogram", (400, 12), task=task, samples=-1)
    api.error("events.scalar_metrics_iter_histogram", (400, 12), task=task, key="epoch")
    api.error("events.get_task_log", (400, 12), task=task, batch_size=0)
    api.error("events.multi_task_scalar_metrics_iter_histogram", (400, 12), tasks=[task] * 101)
    api.error("events.multi_task_scalar_metrics_iter_histogram", (400, 12), tasks=[])
    api.error("events.debug_images", (400, 12), metrics=[])


def test_samples_beyond_the_references_maximum_are_refused(api, task):
    # The reference's request model allows 1..6000 points (0 here: the most).
    assert api.ok("events.scalar_metrics_iter_histogram", task=task, samples=6000)["m"]["v"]["x"] == [1]
    assert api.ok("events.scalar_metrics_iter_histogram", task=task, samples=0)["m"]["v"]["x"] == [1]
    api.error("events.scalar_metrics_iter_histogram", (400, 12), task=task, samples=6001)


def test_download_task_log_errors(api, anon, task):
    api.error("events.download_task_log", (400, 101), task=UNKNOWN)
    api.error("events.download_task_log", (400, 11))
    api.error("events.download_task_log", (400, 12), task=task, line_type="xml")
    api.error("events.download_task_log", (400, 16), task=task, line_type="text", line_format="{msg} {secret}")
    api.error("events.download_task_log", (400, 16), task=task, line_type="text", line_format="{msg")
    api.error("events.download_task_log", (400, 11), task=task, line_type="text", line_format="")
    assert anon.send("events.download_task_log", {"task": task}).code == (401, 20)


def test_delete_for_a_published_task_needs_allow_locked(api, task):
    published = api.ok("tasks.create", name=unique("pub"), type="training")["id"]
    add_batch(api, [scalar(published, "m", "v", 1, 1.0)])
    api.ok("tasks.publish", task=published, force=True)
    api.error("events.delete_for_task", (400, 101), task=published)
    assert api.ok("events.get_task_events", task=published)["total"] == 1
    assert api.ok("events.delete_for_task", task=published, allow_locked=True) == {"deleted": 1}


def test_get_unique_metric_variants(api, anon):
    parent_name = unique("metrics")
    parent = create_project(api, parent_name)
    child = create_project(api, f"{parent_name}/sub")
    a = api.ok("tasks.create", name=unique("a"), type="training", project=parent)["id"]
    b = api.ok("tasks.create", name=unique("b"), type="training", project=parent)["id"]
    c = api.ok("tasks.create", name=unique("c"), type="training", project=child)["id"]
    add_batch(api, [scalar(a, "loss", "train", 1, 1.0), scalar(a, "loss", "val", 1, 1.0),
                    scalar(b, "loss", "train", 2, 1.0), scalar(b, "acc", "top1", 2, 1.0),
                    scalar(c, "deep", "x", 1, 1.0)])
    found = api.ok("projects.get_unique_metric_variants", project=parent)["metrics"]
    assert [(m["metric"], m["variant"]) for m in found] == [
        ("acc", "top1"), ("deep", "x"), ("loss", "train"), ("loss", "val")]
    assert all(len(m["metric_hash"]) == 32 and len(m["variant_hash"]) == 32 for m in found)
    shallow = api.ok("projects.get_unique_metric_variants", project=parent, include_subprojects=False)["metrics"]
    assert ("deep", "x") not in [(m["metric"], m["variant"]) for m in shallow]
    only_b = api.ok("projects.get_unique_metric_variants", project=parent, ids=[b])["metrics"]
    assert [(m["metric"], m["variant"]) for m in only_b] == [("acc", "top1"), ("loss", "train")]
    assert api.ok("projects.get_unique_metric_variants", project=UNKNOWN)["metrics"] == []
    api.error("projects.get_unique_metric_variants", (400, 12), project=parent, ids="b")
    api.error("projects.get_unique_metric_variants", (400, 12), project=parent, include_subprojects="deep")
    assert anon.send("projects.get_unique_metric_variants", {"project": parent}).code == (401, 20)
