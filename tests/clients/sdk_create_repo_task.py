"""Create a task from a git repository and enqueue it, as a user hands repository work to an agent.

Usage: sdk_create_repo_task.py <project> <task name> <repository url> <branch> <script> [<queue name>]
No packages are given: the agent installs the repository's requirements.txt.
"""
import json
import sys

from clearml import Task

project, name, repo, branch, script = sys.argv[1:6]
queue = sys.argv[6] if len(sys.argv) > 6 else "default"
task = Task.create(project_name=project, task_name=name, repo=repo, branch=branch, script=script)
Task.enqueue(task, queue_name=queue)
print(json.dumps({"task_id": task.id}))
