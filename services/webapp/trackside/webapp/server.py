"""Run the web app under gunicorn, listening where ``webapp.listen`` says (127.0.0.1:8080 by default)."""
from __future__ import annotations

import argparse
import os
import sys

from trackside.shared.config import ConfigError, load_config
from trackside.webapp.settings import read_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trackside-webapp", description="Trackside web app")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("TRACKSIDE_WEBAPP_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("TRACKSIDE_WEBAPP_THREADS", "16")))
    args = parser.parse_args(argv)
    try:
        # Check here, once, so a bad setting is one clear line instead of every worker failing in turn.
        settings = read_settings(load_config())
    except ConfigError as exc:
        print(f"trackside-webapp: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    if not settings.plotly_js.is_file():
        print(f"trackside-webapp: WARNING: {settings.plotly_js} is missing (run `make setup`): charts will not "
              "draw", file=sys.stderr)
    os.execvp(sys.executable, [
        sys.executable, "-m", "gunicorn", "--bind", settings.bind, "--workers", str(args.workers),
        # Threads, not processes: almost every request waits on the API or the file server.
        "--threads", str(args.threads), "--worker-class", "gthread", "--timeout", "120", "--no-control-socket",
        # Browsers keep connections open between a page's calls; gunicorn's 2 s default closes them.
        "--keep-alive", "75",
        "--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s %(M)sms',
        "trackside.webapp.wsgi:app",
    ])
