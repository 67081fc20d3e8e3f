"""Trackside agent: a drop-in for clearml-agent whose daemon is fed by Redis stream subscription.

Installs without any server dependency (no Flask, pymongo or Elasticsearch). Built in the agent stage.
"""
