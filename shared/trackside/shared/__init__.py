"""Trackside common library: configuration, storage, ids and time helpers shared by every service.

Nothing here imports Flask, pymongo or Elasticsearch at module import time, so the agent can depend on
this package without pulling in server dependencies (those come with the ``server`` extra).
"""
