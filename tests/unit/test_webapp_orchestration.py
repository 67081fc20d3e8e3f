"""The workers and queues pages' pure parts, run in Node as the browser runs them: the chart interval for a
time range and width (never under the server's 40 s buckets, at most 1000 points), and the reference app's
rules for a queue's name and display name."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.node import needs_node, run_module_script

JS = Path(__file__).resolve().parents[2] / "services" / "webapp" / "trackside" / "webapp" / "static" / "js"
pytestmark = needs_node


def run(module: str, expression: str):
    names = expression.split("(")[0]
    script = (f"import {{{names}}} from {json.dumps((JS / module).as_uri())};"
              f"console.log(JSON.stringify({expression}));")
    return run_module_script(script)


@pytest.mark.parametrize("range_sec, width, interval", [
    (3600, 1000, 40),            # 800 points would be 4.5 s: the server's minimum wins
    (7 * 86400, 1000, 756),      # a week over 800 points
    (30 * 86400, 3000, 2592),    # at most 1000 points however wide
    (86400, 0, 108),             # no width yet: as if 1000 px
])
def test_chart_interval(range_sec, width, interval):
    assert run("components/live_stats.js", f"chartInterval({range_sec}, {width})") == interval


QUEUES = [{"id": "a", "name": "default", "display_name": None}, {"id": "b", "name": "gpu", "display_name": "GPU pool"}]


@pytest.mark.parametrize("values, except_id, problem", [
    ({"name": "", "display_name": ""}, None, "Name is required"),
    ({"name": "  ", "display_name": ""}, None, "Name is required"),
    ({"name": "ab", "display_name": ""}, None, "Name should contain at least 3 characters"),
    ({"name": "default", "display_name": ""}, None, "Name should be unique"),
    ({"name": "GPU pool", "display_name": ""}, None, "Name should be unique"),
    ({"name": "cpu", "display_name": "x"}, None, "Display name should contain at least 3 characters"),
    ({"name": "cpu", "display_name": "default"}, None, "Display name should be unique"),
    ({"name": "cpu", "display_name": ""}, None, None),
    ({"name": "gpu", "display_name": "GPU pool"}, "b", None),  # renaming a queue to its own names
])
def test_queue_name_rules(values, except_id, problem):
    call = f"queueNameProblem({json.dumps(values)}, {json.dumps(QUEUES)}, {json.dumps(except_id)})"
    assert run("views/queues.js", call) == problem
