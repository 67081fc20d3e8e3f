"""The SDK flows of the wire-protocol doc, sections 2a and 2b, against a running Trackside API.

Usage: python sdk_task_flow.py <project name>   (CLEARML_API_HOST and the keys come from the environment)
"""
import json
import sys
import tempfile
from pathlib import Path

from clearml import Task

project = sys.argv[1]

# 2a: a local development task.
task = Task.init(project_name=project, task_name="flow-a", reuse_last_task_id=False, auto_connect_frameworks=False)
params = task.connect({"lr": 0.01, "epochs": 3, "opt": {"name": "adam"}})
config = task.connect_configuration({"layers": 3, "activation": "relu"}, name="model_cfg")
# set_parameters replaces the whole parameter set, so pass what is there plus the new value.
task.set_parameters({**task.get_parameters(), "General/batch_size": 32})
task_id = task.id
task.close()

# 2b: read back, clone, create, enqueue.
found = Task.get_task(project_name=project, task_name="flow-a")
listed = Task.get_tasks(project_name=project)
cloned = Task.clone(source_task=found, name="flow-a clone")

script = Path(tempfile.mkdtemp()) / "remote_script.py"
script.write_text("print('hello from a created task')\n")
created = Task.create(project_name=project, task_name="created", script=str(script), packages=["numpy"])
enqueued = Task.enqueue(cloned, queue_name="default")

print(json.dumps({
    "task_id": task_id,
    "found_id": found.id,
    "found_params": found.get_parameters(),
    "found_config": found.get_configuration_object("model_cfg"),
    "listed_ids": sorted(t.id for t in listed),
    "clone_id": cloned.id,
    "created_id": created.id,
    "enqueue_response": {"queued": enqueued.queued, "updated": enqueued.updated},
    "connected_params": params,
}))
