"""The WSGI entry point for gunicorn: ``gunicorn trackside.api.wsgi:app``.

A configuration error stops start-up with one clear line naming the file (and line), not a traceback.
Exit code 4 is gunicorn's "application failed to load": the master stops instead of respawning workers.
"""
import sys

from trackside.shared.config import ConfigError

try:
    from trackside.api.app import create_app

    app = create_app()
except ConfigError as exc:
    print(f"trackside-api: configuration error: {exc}", file=sys.stderr)
    sys.exit(4)
