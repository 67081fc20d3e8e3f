"""Run the API under gunicorn, listening where ``apiserver.listen`` says (127.0.0.1:8008 by default)."""
from __future__ import annotations

import argparse
import os
import sys

from trackside.shared.auth_tokens import token_secret
from trackside.shared.config import ConfigError, load_config
from trackside.shared.dispatch.acl import check_configured_redis


def _migrate(config) -> None:
    """Apply pending schema migrations before any worker boots: a long one would otherwise outlive
    gunicorn's worker timeout. Workers still check (one read when nothing is pending)."""
    from pymongo.errors import PyMongoError

    from trackside.api import migrations
    from trackside.shared.storage.mongo import connect

    try:
        applied = migrations.apply_pending(connect(config.get("hosts.mongo.backend.host")))
    except PyMongoError as exc:
        print(f"trackside-api: MongoDB (hosts.mongo.backend.host) is unreachable: {exc}", file=sys.stderr)
        sys.exit(1)
    if applied:
        print(f"trackside-api: applied schema migrations {', '.join(applied)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trackside-api", description="Trackside API server (ClearML API v2.x)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("TRACKSIDE_API_WORKERS", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("TRACKSIDE_API_THREADS", "8")))
    args = parser.parse_args(argv)
    try:
        # Check here, once, so a bad setting is one clear line instead of every worker failing in turn.
        config = load_config()
        token_secret(config)
    except ConfigError as exc:
        print(f"trackside-api: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    refusal = check_configured_redis(config)
    if refusal:  # dispatch credentials would mean nothing on a Redis anyone can use
        print(f"trackside-api: {refusal}", file=sys.stderr)
        sys.exit(2)
    _migrate(config)
    bind = f"{config.get('apiserver.listen.host')}:{config.get_int('apiserver.listen.port')}"
    os.execvp(sys.executable, [
        sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", str(args.workers),
        "--threads", str(args.threads), "--worker-class", "gthread", "--timeout", "120", "--no-control-socket",
        # Clients pool connections; gunicorn's 2 s default closes them under a client that pauses briefly.
        "--keep-alive", "75",
        "--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s %(M)sms',
        "trackside.api.wsgi:app",
    ])
