"""The real clearml SDK (2.1.12) reports everything it can (scalars, text, plots, a debug image, artifacts, a
model, a dataset) through the API and the file server, then a fresh SDK process reads it all back; run on
both events backends."""
import pytest
import requests

from support.client import ApiClient
from support.clients import client_env, run_client_script
from support.names import unique
from support.suite import start_fileserver, stop_in_background
from clients.sdk_reporting_flow import ITERATIONS, SERIES, scalar_value

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["mongo", "elastic"])
def flow(request, tmp_path_factory):
    """(backend, api server, what the report phase printed, what the read phase printed, file server)."""
    server = request.getfixturevalue("api_server" if request.param == "mongo" else "api_server_elastic")
    # The session's file server goes with the session's API (the same token secret); the elastic API has its own.
    own_files = request.param == "elastic"
    files = (start_fileserver(server.config_dir, tmp_path_factory.mktemp(f"files-{request.param}")) if own_files
             else request.getfixturevalue("fileserver"))
    try:
        home = tmp_path_factory.mktemp(f"sdk-{request.param}")
        # The SDK's defaults on the mongo run; on the elastic run, what matters is the backend, and the SDK's
        # reporting in a thread sends the same calls ~20 s sooner (support.clients.THREAD_REPORTING_CONF).
        env = client_env(server.url, server.key, server.secret, home, files_url=files.url,
                         thread_reporting=request.param == "elastic")
        reported = run_client_script("sdk_reporting_flow.py", ["report", unique("report")], env, timeout=300)
        assert reported.returncode == 0, f"report failed:\n{reported.stdout[-3000:]}\n{reported.stderr[-3000:]}"
        ids = reported.result
        read = run_client_script("sdk_reporting_flow.py",
                                 ["read", ids["task_id"], ids["model_id"], ids["dataset_id"]], env, timeout=300)
        assert read.returncode == 0, f"read failed:\n{read.stdout[-3000:]}\n{read.stderr[-3000:]}"
        yield request.param, server, reported, read, files
    finally:
        if own_files:
            stop_in_background(files.process)


def test_sdk_prints_no_complaints(flow):
    _, _, reported, read, _ = flow
    # Dataset.create looks its hidden project up before creating it, and says so, against any server.
    expected = "No projects were found with name(s)"
    assert [line for line in reported.complaints() if expected not in line] == []
    assert read.complaints() == []


def test_scalars_read_back_equal_what_was_reported(flow):
    scalars = flow[3].result["scalars"]
    for index, series in enumerate(SERIES):
        curve = scalars["loss"][series]
        assert curve["x"] == list(range(ITERATIONS))
        assert curve["y"] == pytest.approx([scalar_value(index, i) for i in range(ITERATIONS)])
    assert scalars["accuracy"]["top1"]["y"] == pytest.approx([0.5, 0.75])


def test_last_scalar_metrics(flow):
    last = flow[3].result["last_scalars"]
    final = ITERATIONS - 1
    assert last["loss"]["train"]["last"] == pytest.approx(scalar_value(0, final))
    assert last["loss"]["test"]["min"] == pytest.approx(scalar_value(2, final))
    assert last["loss"]["test"]["max"] == pytest.approx(scalar_value(2, 0))
    assert last["accuracy"]["top1"]["last"] == pytest.approx(0.75)


def test_console_output_holds_text_and_prints(flow):
    console = "\n".join(flow[3].result["console"])
    assert "a line of text from report_text" in console
    assert "a line printed to the console" in console


def test_plots_read_back(flow):
    plots = {(p["metric"], p["variant"]): p["plot"] for p in flow[3].result["plots"]}
    assert set(plots) >= {("histogram", "counts"), ("table", "rows"), ("plotly", "line")}
    assert plots[("plotly", "line")]["data"][0]["y"] == [4, 5, 6]
    assert plots[("histogram", "counts")]["data"][0]["y"] == [3, 1, 4, 1, 5]
    assert plots[("table", "rows")]["data"][0]["type"] == "table"


def test_debug_image_is_listed_and_downloadable(flow):
    _, server, _, read, files = flow
    samples = read.result["debug_samples"]
    assert [s["iter"] for s in samples] == [7]
    url = samples[0]["url"]
    # The SDK names files by a rolling counter (sdk.metrics.file_history_size), not by iteration.
    assert url.startswith(files.url + "/") and "/metrics/image/array/image_array_" in url
    token = ApiClient(server.url, server.key, server.secret).login().token
    reply = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert reply.status_code == 200
    assert reply.content[:3] == b"\xff\xd8\xff" or reply.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_artifacts_round_trip(flow):
    _, _, reported, read, _ = flow
    assert read.result["dict_art"] == {"alpha": 1, "beta": [1, 2, 3]}
    assert read.result["file_art_sha256"] == reported.result["blob_sha256"]


def test_model_uploaded_to_the_file_server_and_downloaded(flow):
    _, _, reported, read, _ = flow
    assert read.result["model_sha256"] == reported.result["weights_sha256"]
    assert read.result["model_uri"].startswith("http://127.0.0.1:")


def test_dataset_round_trip(flow):
    read = flow[3].result
    assert read["dataset_files"] == ["a.txt", "sub/b.txt"]
    assert read["dataset_b"] == "file b\n"
