"""The real clearml SDK (2.1.12) against the running API: Task.init ... close, get_task(s), clone, create,
enqueue; then every stored field is checked through the API."""
import pytest

from support.clients import client_env, run_client_script
from support.names import unique
from support.objects import get_task

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sdk_flow(api_server, tmp_path_factory):
    project = unique("sdk")
    env = client_env(api_server.url, api_server.key, api_server.secret, tmp_path_factory.mktemp("sdk-home"))
    run = run_client_script("sdk_task_flow.py", [project], env)
    assert run.returncode == 0, f"SDK flow failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    return project, run


def test_sdk_prints_no_complaints_about_the_server(sdk_flow):
    _, run = sdk_flow
    assert run.complaints() == []


def test_task_init_to_close_is_stored(api, sdk_flow):
    project, run = sdk_flow
    result = run.result
    task = get_task(api, result["task_id"])
    assert task["name"] == "flow-a"
    assert task["type"] == "training"
    assert task["status"] == "completed"
    assert api.ok("projects.get_by_id", project=task["project"])["project"]["name"] == project
    general = task["hyperparams"]["General"]
    assert general["lr"]["value"] == "0.01"
    assert general["epochs"]["value"] == "3"
    assert general["opt/name"]["value"] == "adam"
    assert general["batch_size"]["value"] == "32"
    assert general["lr"]["type"] == "float"
    cfg = task["configuration"]["model_cfg"]
    assert "layers" in cfg["value"] and cfg["type"] == "dictionary"
    assert task["script"]["entry_point"].endswith("sdk_task_flow.py")
    assert task["script"]["binary"].startswith("python")
    assert task["runtime"]  # the SDK stores its environment (python version, cpu cores, ...)
    assert task["started"] and task["completed"] and task["last_update"]


def test_get_task_and_get_tasks_read_back(sdk_flow):
    _, run = sdk_flow
    result = run.result
    assert result["found_id"] == result["task_id"]
    assert result["found_params"]["General/lr"] == "0.01"
    assert result["found_config"] and "layers" in result["found_config"]
    assert result["task_id"] in result["listed_ids"]
    assert result["connected_params"]["lr"] == 0.01


def test_clone_is_enqueued_on_the_default_queue(api, sdk_flow):
    _, run = sdk_flow
    result = run.result
    clone = get_task(api, result["clone_id"])
    source = get_task(api, result["task_id"])
    assert clone["parent"] == result["task_id"]
    assert clone["name"] == "flow-a clone"
    assert clone["hyperparams"] == source["hyperparams"]
    assert clone["configuration"] == source["configuration"]
    assert clone["status"] == "queued"
    assert "development" not in clone["system_tags"]
    default = api.ok("queues.get_default")
    assert clone["execution"]["queue"] == default["id"]
    entries = api.ok("queues.get_by_id", queue=default["id"])["queue"]["entries"]
    assert result["clone_id"] in [e["task"] for e in entries]
    assert result["enqueue_response"] == {"queued": 1, "updated": 1}


def test_task_create_stores_script_and_requirements(api, sdk_flow):
    _, run = sdk_flow
    created = get_task(api, run.result["created_id"])
    assert created["status"] == "created"
    assert "hello from a created task" in created["script"]["diff"]
    assert created["script"]["entry_point"] == "remote_script.py"
    assert "numpy" in str(created["script"]["requirements"])
