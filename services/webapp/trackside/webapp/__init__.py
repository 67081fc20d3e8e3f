"""Trackside web app (port 8080): sign-in, the browser's door to the API and the file server, and the UI.

``trackside-webapp`` (or ``python -m trackside.webapp``) runs it under gunicorn. The browser never holds an
API token: the server keeps it in an HttpOnly cookie and forwards the browser's calls as the signed-in user.
Module map: ``settings`` (webapp.conf), ``session`` (cookies and CSRF), ``api_client`` (pooled HTTP to the
API), ``name_login`` (name-only sign-in through the ``webserver`` system credential), ``views`` (sign-in,
sign-out, app config, the single-page shell, plotly.js), ``proxy`` (``/api/...`` and ``/files/...``),
``health``, ``app`` / ``wsgi`` / ``server``. The pages themselves are plain ES modules under ``static/js``.
"""
