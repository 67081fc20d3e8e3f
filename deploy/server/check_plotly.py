"""Build step of deploy/server/Dockerfile: the web app's plotly.js is in the build context at the version the
lockfile pins (`make setup` installs it with npm ci); otherwise stop the build and say how to fix it.

    python3 check_plotly.py services/webapp/frontend
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

PACKAGE = "plotly.js-dist-min"


def problem(frontend: Path) -> str | None:
    pinned = json.loads((frontend / "package-lock.json").read_text())["packages"][f"node_modules/{PACKAGE}"]["version"]
    installed = frontend / "node_modules" / PACKAGE
    try:
        found = json.loads((installed / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        found = None
    if found != pinned or not (installed / "plotly.min.js").is_file():
        return (f"{PACKAGE} {pinned} is not installed in {frontend}/node_modules (found: {found}): run `make setup` "
                f"(npm ci in services/webapp/frontend) before building the image")
    return None


if __name__ == "__main__":
    message = problem(Path(sys.argv[1]))
    if message:
        sys.exit(f"check_plotly: {message}")
    print(f"check_plotly: {PACKAGE} as pinned")
