"""Trackside API service: the ClearML REST API (v2.x) over Flask.

Layers, as in clearml-server: ``endpoints`` (request handling: schema + handler per endpoint), ``bll``
(domain logic) and storage (``db`` collections over :mod:`trackside.shared.storage`).
"""

SERVER_VERSION = "2.0.0"
