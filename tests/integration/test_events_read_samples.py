"""Plots and debug images read back on both events backends: latest iterations, paging through iterations with
scroll ids, one-sample navigation; plus the metric lists, vectors and deleting a task's events."""
from __future__ import annotations

import pytest

from support.client import ApiClient
from support.event_reports import Reported, add_batch, plot, report, scalar
from support.names import unique


@pytest.fixture(scope="module", params=["mongo", "elastic"])
def rep(request) -> Reported:
    server = request.getfixturevalue("api_server" if request.param == "mongo" else "api_server_elastic")
    return report(ApiClient(server.url, server.key, server.secret).login(), request.param)


def shape(iterations: list[dict]) -> list[tuple]:
    return [(it["iter"], [(e["metric"], e["variant"]) for e in it["events"]]) for it in iterations]


# -- plots -----------------------------------------------------------------------------------------------------
def test_task_plots_last_iterations_of_each_series(rep):
    latest = rep.client.ok("events.get_task_plots", task=rep.task)
    assert [(p["metric"], p["variant"], p["iter"]) for p in latest["plots"]] == [
        ("conf", "matrix", 9), ("conf", "norm", 9), ("roc", "curve", 5)]
    assert latest["returned"] == latest["total"] == 3
    assert latest["plots"][0]["plot_str"] == '{"data": [], "iteration": 9}'
    two = rep.client.ok("events.get_task_plots", task=rep.task, iters=2, metrics=[{"metric": "conf"}])
    assert [(p["variant"], p["iter"]) for p in two["plots"]] == [("matrix", 9), ("matrix", 5), ("norm", 9)]


def test_multi_task_plots(rep):
    result = rep.client.ok("events.get_multi_task_plots", tasks=[rep.task, rep.other])
    matrix = result["plots"]["conf"]["matrix"]
    assert set(matrix) == {rep.task, rep.other}
    assert list(matrix[rep.task]) == ["9"] and matrix[rep.task]["9"]["name"] == rep.names[rep.task]
    assert [p["iter"] for p in matrix[rep.other]["3"]["plots"]] == [3]
    assert result["plots"]["roc"]["curve"][rep.task]["5"]["plots"][0]["variant"] == "curve"
    whole_task = rep.client.ok("events.get_multi_task_plots", tasks=[rep.task], last_iters_per_task_metric=False)
    assert "roc" not in whole_task["plots"]  # the task's last iteration (9) has no roc plot


def test_plots_paged_by_iteration(rep):
    first = rep.client.ok("events.plots", metrics=[{"task": rep.task, "metric": "conf"}], iters=1)
    assert [m["task"] for m in first["metrics"]] == [rep.task]
    assert shape(first["metrics"][0]["iterations"]) == [(9, [("conf", "matrix"), ("conf", "norm")])]
    earlier = rep.client.ok("events.plots", metrics=[{"task": rep.task, "metric": "conf"}], iters=2,
                            scroll_id=first["scroll_id"])
    assert shape(earlier["metrics"][0]["iterations"]) == [(5, [("conf", "matrix")]), (0, [("conf", "matrix")])]
    end = rep.client.ok("events.plots", metrics=[{"task": rep.task, "metric": "conf"}], scroll_id=earlier["scroll_id"])
    assert end["metrics"][0]["iterations"] == []
    later = rep.client.ok("events.plots", metrics=[{"task": rep.task, "metric": "conf"}], navigate_earlier=False,
                          scroll_id=earlier["scroll_id"])
    # the window is now iterations 0-5: later ones come next, as in the reference
    assert shape(later["metrics"][0]["iterations"]) == [(9, [("conf", "matrix"), ("conf", "norm")])]
    refreshed = rep.client.ok("events.plots", metrics=[{"task": rep.task}], refresh=True,
                              scroll_id=earlier["scroll_id"])
    assert shape(refreshed["metrics"][0]["iterations"]) == [(9, [("conf", "matrix"), ("conf", "norm")])]


def test_plot_sample_navigation(rep):
    sample = rep.client.ok("events.get_plot_sample", task=rep.task, metric="conf")
    assert (sample["min_iteration"], sample["max_iteration"]) == (0, 9)
    assert [(e["variant"], e["iter"]) for e in sample["events"]] == [("matrix", 9), ("norm", 9)]
    back = rep.client.ok("events.next_plot_sample", task=rep.task, scroll_id=sample["scroll_id"])
    assert [(e["variant"], e["iter"]) for e in back["events"]] == [("matrix", 5)]
    again = rep.client.ok("events.next_plot_sample", task=rep.task, scroll_id=back["scroll_id"])
    assert [e["iter"] for e in again["events"]] == [0]
    end = rep.client.ok("events.next_plot_sample", task=rep.task, scroll_id=again["scroll_id"])
    assert end["events"] == []
    forward = rep.client.ok("events.next_plot_sample", task=rep.task, scroll_id=again["scroll_id"],
                            navigate_earlier=False)
    assert [e["iter"] for e in forward["events"]] == [5]
    at = rep.client.ok("events.get_plot_sample", task=rep.task, metric="conf", iteration=7)
    assert [e["iter"] for e in at["events"]] == [5]
    every_metric = rep.client.ok("events.get_plot_sample", task=rep.task, metric="roc", navigate_current_metric=False)
    nxt = rep.client.ok("events.next_plot_sample", task=rep.task, scroll_id=every_metric["scroll_id"])
    assert [(e["metric"], e["iter"]) for e in nxt["events"]] == [("conf", 5)]  # same iteration, previous metric
    unknown = rep.client.ok("events.get_plot_sample", task=rep.task, metric="nothing")
    assert unknown["events"] == [] and unknown["min_iteration"] is None


# -- debug images ----------------------------------------------------------------------------------------------
def test_debug_images_skip_overwritten_files(rep):
    first = rep.client.ok("events.debug_images", metrics=[{"task": rep.task, "metric": "img"}], iters=10)
    iterations = first["metrics"][0]["iterations"]
    # iterations 0-2 used the files that 3-5 overwrote
    assert shape(iterations) == [(5, [("img", "other"), ("img", "sample")]), (4, [("img", "sample")]),
                                 (3, [("img", "sample")])]
    assert iterations[1]["events"][0]["url"].endswith("sample_1.png")


def test_debug_images_as_the_sdk_pages_them(rep):
    """Task.get_debug_samples: one variant, repeated calls with the scroll id until an empty answer."""
    samples, scroll_id = [], None
    for _ in range(10):
        page = rep.client.ok("events.debug_images", metrics=[{"task": rep.task, "metric": "img",
                                                              "variants": ["sample"]}], iters=1, scroll_id=scroll_id)
        iterations = page["metrics"][0]["iterations"]
        if not iterations:
            break
        samples += [e["iter"] for it in iterations for e in it["events"]]
        scroll_id = page["scroll_id"]
    assert samples == [5, 4, 3]


def test_debug_image_sample_navigation(rep):
    sample = rep.client.ok("events.get_debug_image_sample", task=rep.task, metric="img", variant="sample")
    assert sample["event"]["iter"] == 5 and sample["event"]["url"].endswith("sample_2.png")
    assert (sample["min_iteration"], sample["max_iteration"]) == (3, 5)
    prev = rep.client.ok("events.next_debug_image_sample", task=rep.task, scroll_id=sample["scroll_id"])
    assert (prev["event"]["variant"], prev["event"]["iter"]) == ("other", 5)  # same iteration, previous variant
    earlier = rep.client.ok("events.next_debug_image_sample", task=rep.task, scroll_id=prev["scroll_id"],
                            next_iteration=True)
    assert (earlier["event"]["variant"], earlier["event"]["iter"]) == ("sample", 4)
    oldest = rep.client.ok("events.next_debug_image_sample", task=rep.task, scroll_id=earlier["scroll_id"])
    assert oldest["event"]["iter"] == 3
    end = rep.client.ok("events.next_debug_image_sample", task=rep.task, scroll_id=oldest["scroll_id"])
    assert end["event"] is None
    at = rep.client.ok("events.get_debug_image_sample", task=rep.task, metric="img", variant="sample", iteration=1)
    assert at["event"] is None  # iteration 1's file was overwritten
    at4 = rep.client.ok("events.get_debug_image_sample", task=rep.task, metric="img", variant="sample", iteration=4,
                        scroll_id=sample["scroll_id"])
    assert at4["event"]["iter"] == 4


# -- metric lists, vectors -------------------------------------------------------------------------------------
def test_metric_lists(rep):
    scalars = rep.client.ok("events.get_scalar_metrics_and_variants", task=rep.task)["metrics"]
    assert scalars == {"Summary": ["runtime", "score"], "acc": ["top1"], "loss": ["train", "val"]}
    vectors = rep.client.ok("events.get_vector_metrics_and_variants", task=rep.task)["metrics"]
    assert vectors == {"hist": ["v"]}
    per_task = rep.client.ok("events.get_task_metrics", tasks=[rep.task, rep.other], event_type="plot")["metrics"]
    assert per_task == [{"task": rep.task, "metrics": ["conf", "roc"]}, {"task": rep.other, "metrics": ["conf"]}]
    multi = rep.client.ok("events.get_multi_task_metrics", tasks=[rep.task], event_type="training_debug_image")
    assert multi["metrics"] == [{"metric": "img", "variants": ["other", "sample"]}]


def test_vector_iterations(rep):
    found = rep.client.ok("events.vector_metrics_iter_histogram", task=rep.task, metric="hist", variant="v")
    assert found == {"metric": "hist", "variant": "v", "iterations": [0, 1], "vectors": [[4.0], [1.0, 2.0, 3.0]]}


# -- deleting --------------------------------------------------------------------------------------------------
def test_delete_for_task_and_model(rep):
    task = rep.client.ok("tasks.create", name=unique("doomed"), type="training", project=rep.project)["id"]
    add_batch(rep.client, [scalar(task, "m", "v", i, 1.0) for i in range(4)])
    assert rep.client.ok("events.delete_for_task", task=task) == {"deleted": 4}
    assert rep.client.ok("events.get_task_events", task=task)["total"] == 0
    assert rep.client.ok("events.delete_for_task", task=task) == {"deleted": 0}
    model = rep.client.ok("models.create", name=unique("doomed"), uri="file:///d.bin")["id"]
    add_batch(rep.client, [{**scalar(model, "m", "v", 1, 1.0), "model_event": True}])
    assert rep.client.ok("events.delete_for_model", model=model) == {"deleted": 1}


def test_reset_and_delete_remove_events_from_reads(rep):
    task = rep.client.ok("tasks.create", name=unique("reset"), type="training", project=rep.project)["id"]
    add_batch(rep.client, [scalar(task, "m", "v", 1, 1.0), plot(task, "p", "v", 1)])
    rep.client.ok("tasks.reset", task=task, force=True)
    assert rep.client.ok("events.scalar_metrics_iter_histogram", task=task) == {}
    assert rep.client.ok("events.get_task_plots", task=task)["plots"] == []
    add_batch(rep.client, [scalar(task, "m", "v", 2, 1.0)])
    rep.client.ok("tasks.delete", task=task, force=True)
    rep.client.error("events.get_task_events", (400, 101), task=task)
