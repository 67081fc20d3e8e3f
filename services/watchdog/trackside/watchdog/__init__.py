"""Trackside watchdog (``trackside-watchdog``): the suite's one background process.

Every ``services.queues.dispatch.reconcile_interval_sec`` it runs the dispatch reconcile (streams and groups
back after a Redis restart, dead consumers dropped, expired leases returned to their queues, tokens topped
up), and it keeps queue metrics sampled. One process acts at a time: a Redis lock (``lock.py``).
"""
