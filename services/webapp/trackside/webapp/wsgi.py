"""The WSGI entry point for gunicorn: ``gunicorn trackside.webapp.wsgi:app``.

A configuration error stops start-up with one clear line; exit code 4 is gunicorn's "application failed to
load", so the master stops instead of respawning workers.
"""
import sys

from trackside.shared.config import ConfigError

try:
    from trackside.webapp.app import create_app

    app = create_app()
except ConfigError as exc:
    print(f"trackside-webapp: configuration error: {exc}", file=sys.stderr)
    sys.exit(4)
