"""Running the web app's browser modules in Node for unit tests: plain ES modules, imported by file URL."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def run_module_script(script: str):
    """Run ``script`` as an ES module; what it printed (one JSON document) as Python data."""
    done = subprocess.run([NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
