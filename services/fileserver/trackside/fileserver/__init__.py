"""Trackside file server (port 8081): artifacts, models and debug images behind the API's tokens.

``trackside-fileserver`` (or ``python -m trackside.fileserver``) runs it under gunicorn. Module map:
``settings`` (fileserver.conf), ``storage`` (safe paths, staged uploads, deletes), ``uploads`` (streaming
multipart), ``auth`` (Bearer token or web cookie), ``views`` (the routes), ``app`` / ``wsgi`` / ``server``.
"""
