"""serving.* (2.31): containers registering and reporting as clearml-serving does, endpoints summed over their
containers, registration timeouts, and the metrics history; raw HTTP and the real SDK's session."""
from __future__ import annotations

import time

from support.names import unique
from support.sdk_api import call, run_calls
from support.waiting import wait_for

ENDPOINTS = ("serving.register_container", "serving.unregister_container", "serving.container_status_report",
             "serving.get_endpoints", "serving.get_loading_instances", "serving.get_endpoint_details",
             "serving.get_endpoint_metrics_history")
MIN_INTERVAL = 40  # services.serving.min_chart_interval_sec


def model_report(container: str, url: str | None, **extra) -> dict:
    report = {"container_id": container, "endpoint_name": "mnist", "model_name": "mnist-model",
              "model_source": "clearml", "model_version": "1", "preprocess_artifact": "py_code",
              "input_type": "float32", "input_size": 784,
              "reference": [{"type": "model", "value": "m1"}], **extra}
    if url:
        report["endpoint_url"] = url
    return report


def status(container: str, url: str, requests: int, latency: int, **extra) -> dict:
    return model_report(container, url, **{"uptime_sec": requests * 10, "requests_num": requests,
                                           "requests_min": 1.5, "latency_ms": latency, **extra})


def endpoint_of(api, url: str) -> dict | None:
    return next((e for e in api.ok("serving.get_endpoints")["endpoints"] if e["url"] == url), None)


def test_a_registered_container_loads_then_serves(api):
    container, url = unique("c"), f"/serve/{unique('mnist')}"
    assert api.ok("serving.register_container", **model_report(container, None), timeout=60) == {}
    loading = {i["id"]: i for i in api.ok("serving.get_loading_instances")["instances"]}
    assert loading[container]["model"] == "mnist-model" and loading[container]["url"] is None
    assert loading[container]["input_size"] == "784" and loading[container]["age_sec"] >= 0
    assert endpoint_of(api, url) is None

    api.ok("serving.container_status_report", **status(container, url, 10, 20,
                                                        machine_stats={"cpu_usage": [10, 30], "gpu_usage": [50],
                                                                       "memory_used": 1024, "memory_free": 1024}))
    assert container not in {i["id"] for i in api.ok("serving.get_loading_instances")["instances"]}
    details = api.ok("serving.get_endpoint_details", endpoint_url=url)
    assert details["endpoint"] == "mnist" and details["url"] == url and details["uptime_sec"] == 100
    [instance] = details["instances"]
    assert instance["id"] == container and instance["requests"] == 10 and instance["latency_ms"] == 20
    assert instance["cpu_count"] == 2 and instance["gpu_count"] == 1
    assert instance["reference"] == [{"type": "model", "value": "m1"}] and instance["last_update"]

    assert api.ok("serving.unregister_container", container_id=container) == {}
    api.error("serving.get_endpoint_details", (400, 1052), endpoint_url=url)
    assert endpoint_of(api, url) is None
    # Unregistering an unknown container is quiet (auto unregister, as the reference is configured).
    assert api.ok("serving.unregister_container", container_id=container) == {}


def test_endpoints_sum_their_containers(api):
    url, first, second = f"/serve/{unique('sum')}", unique("c"), unique("c")
    # A status report from a container that never registered registers it.
    api.ok("serving.container_status_report", **status(first, url, 10, 20))
    api.ok("serving.container_status_report", **status(second, url, 30, 41, requests_min=2.25))
    summary = endpoint_of(api, url)
    assert summary["instances"] == 2 and summary["requests"] == 40 and summary["uptime_sec"] == 300
    assert summary["latency_ms"] == 30 and summary["requests_min"] == 1.88
    assert summary["endpoint"] == "mnist" and summary["model"] == "mnist-model" and summary["last_update"]
    ids = [i["id"] for i in api.ok("serving.get_endpoint_details", endpoint_url=url)["instances"]]
    assert sorted(ids) == sorted([first, second])


def test_a_silent_container_expires(api):
    container, url = unique("c"), f"/serve/{unique('exp')}"
    api.ok("serving.register_container", **model_report(container, url), timeout=1)
    assert endpoint_of(api, url)["instances"] == 1
    wait_for(lambda: endpoint_of(api, url) is None, timeout=10, what="the container to expire")
    api.error("serving.get_endpoint_details", (400, 1052), endpoint_url=url)


def test_metrics_history(api):
    url, first, second = f"/serve/{unique('hist')}", unique("a"), unique("b")
    start = time.time()
    api.ok("serving.container_status_report", **status(first, url, 5, 10, machine_stats={"memory_used": 2048}))
    api.ok("serving.container_status_report", **status(first, url, 8, 30))
    api.ok("serving.container_status_report", **status(second, url, 4, 40))
    window = {"endpoint_url": url, "from_date": start - 3 * MIN_INTERVAL, "to_date": time.time() + 2 * MIN_INTERVAL,
              "interval": 1}
    requests = api.ok("serving.get_endpoint_metrics_history", **window)
    assert requests["computed_interval"] == MIN_INTERVAL and requests["total"]["title"] == "Number of Requests"
    # Requests: only buckets with reports; each container's highest count, summed.
    assert len(requests["total"]["dates"]) in (1, 2)
    assert sum(requests["total"]["values"]) == 12
    assert set(requests["instances"]) == {first, second}
    assert sum(requests["instances"][first]["values"]) == 8 and requests["instances"][first]["title"] == first
    latency = api.ok("serving.get_endpoint_metrics_history", metric_type="latency_ms", instance_charts=False,
                     **window)
    # Other charts have every bucket of the window; the latency total averages the containers' averages.
    assert latency["instances"] == {} and len(latency["total"]["dates"]) >= 4
    dates = latency["total"]["dates"]
    assert all(b - a == MIN_INTERVAL * 1000 for a, b in zip(dates, dates[1:]))
    assert 30.0 in latency["total"]["values"] or sorted(v for v in latency["total"]["values"] if v) == [10.0, 40.0]
    ram = api.ok("serving.get_endpoint_metrics_history", metric_type="ram_used", **window)
    assert 2.0 in ram["instances"][first]["values"]  # MB as GB
    empty = api.ok("serving.get_endpoint_metrics_history", **{**window, "endpoint_url": "/nothing/here"})
    assert empty == {"computed_interval": MIN_INTERVAL, "total": {"title": "Number of Requests", "dates": [],
                                                                  "values": []}, "instances": {}}


def test_bad_input(api, anon):
    api.error("serving.register_container", (400, 11), container_id="c", endpoint_name="e")
    api.error("serving.register_container", (400, 12), **model_report("c", None), timeout=0)
    api.error("serving.register_container", (400, 12), **model_report("c", None, reference=[{"type": "x",
                                                                                             "value": "v"}]))
    api.error("serving.container_status_report", (400, 12), **model_report(unique("c"), None))
    api.error("serving.register_container", (400, 12), **model_report("c", None, input_size=[1, 28, 28]))
    api.error("serving.container_status_report", (400, 12), **status("c", "/u", 1, 1, requests_num="many"))
    api.error("serving.unregister_container", (400, 11))
    api.error("serving.get_endpoint_details", (400, 11))
    history = {"endpoint_url": "/u", "from_date": 100, "to_date": 200, "interval": 60}
    api.error("serving.get_endpoint_metrics_history", (400, 16), **{**history, "from_date": 300})
    api.error("serving.get_endpoint_metrics_history", (400, 12), **history, metric_type="bogus")
    api.error("serving.get_endpoint_metrics_history", (400, 12), **{**history, "interval": 0})
    api.error("serving.get_endpoint_metrics_history", (400, 11), endpoint_url="/u", from_date=1, to_date=2)
    assert api.ok("serving.get_endpoints", unknown=1)["endpoints"] is not None
    for name in ENDPOINTS:
        assert anon.send(name, {}).code == (401, 20), name
    assert api.send("serving.get_endpoints", {}, version="2.30").code == (404, 0)


def test_through_the_sdk(api, api_server, tmp_path):
    container, url = unique("sdk"), f"/serve/{unique('sdk')}"
    answers = run_calls(api_server, [
        call("serving.register_container", raw=True, version="2.31", **model_report(container, url)),
        call("serving.container_status_report", raw=True, version="2.31", **status(container, url, 3, 7)),
        call("serving.get_endpoint_details", raw=True, version="2.31", endpoint_url=url),
        call("serving.unregister_container", raw=True, version="2.31", container_id=container),
        call("serving.get_endpoint_details", raw=True, version="2.31", endpoint_url=url),
    ], tmp_path / "home")
    assert answers[0] == answers[1] == answers[3] == {"ok": True, "data": {}}
    assert answers[2]["data"]["instances"][0]["requests"] == 3
    assert answers[4]["ok"] is False and answers[4]["code"] == [400, 1052]
