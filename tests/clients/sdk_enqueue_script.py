"""Create a task from a local script (no repository) and enqueue it, as a user hands work to an agent.

Usage: sdk_enqueue_script.py <project> <task name> <script path> [<queue name>]
"""
import json
import sys

from clearml import Task

project, name, script = sys.argv[1:4]
queue = sys.argv[4] if len(sys.argv) > 4 else "default"
# The job is plain Python (no Task.init added): the agent runs it without installing the SDK.
task = Task.create(project_name=project, task_name=name, script=script, packages="", add_task_init_call=False)
Task.enqueue(task, queue_name=queue)
print(json.dumps({"task_id": task.id}))
