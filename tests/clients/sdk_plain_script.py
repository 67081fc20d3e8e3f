"""A user's first script: what `make run` promises works."""
import json

from clearml import Task

task = Task.init(project_name="first-steps", task_name="hello", reuse_last_task_id=False)
task.connect({"lr": 0.1})
task_id = task.id
task.close()
print(json.dumps({"task_id": task_id, "status": Task.get_task(task_id=task_id).get_status()}))
