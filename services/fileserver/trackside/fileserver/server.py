"""Run the file server under gunicorn, listening where ``fileserver.listen`` says (127.0.0.1:8081 by default)."""
from __future__ import annotations

import argparse
import os
import sys

from trackside.fileserver.app import AUTH_OFF_WARNING, prepare_storage
from trackside.fileserver.settings import read_settings
from trackside.shared import revocation
from trackside.shared.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trackside-fileserver", description="Trackside file server")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("TRACKSIDE_FILESERVER_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("TRACKSIDE_FILESERVER_THREADS", "8")))
    args = parser.parse_args(argv)
    try:
        # Check here, once, so a bad setting is one clear line instead of every worker failing in turn.
        config = load_config()
        settings = read_settings(config)
        prepare_storage(settings)
        if settings.auth_enabled:
            revocation.for_checking(config)  # the stores' addresses (it connects lazily: nothing is reached)
    except ConfigError as exc:
        print(f"trackside-fileserver: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    if not settings.auth_enabled:
        print("trackside-fileserver: WARNING: " + AUTH_OFF_WARNING.format(
            bind=settings.bind, folder=settings.upload_folder), file=sys.stderr)
    os.execvp(sys.executable, [
        sys.executable, "-m", "gunicorn", "--bind", settings.bind, "--workers", str(args.workers),
        "--threads", str(args.threads), "--worker-class", "gthread", "--timeout", "120", "--no-control-socket",
        # Clients pool connections; gunicorn's 2 s default closes them under a client that pauses briefly.
        "--keep-alive", "75",
        "--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s %(M)sms',
        "trackside.fileserver.wsgi:app",
    ])
