"""Trackside watchdog (``trackside-watchdog``): the suite's one background process.

Every ``services.queues.dispatch.reconcile_interval_sec`` it runs the dispatch reconcile (streams and groups
back after a Redis restart, dead consumers dropped, expired leases returned to their queues, orphaned queued
tasks put back, tokens topped up); it keeps queue metrics sampled; and every
``services.tasks.non_responsive_tasks_watchdog.watch_interval_sec`` it stops in-progress tasks nothing has
heard from (``non_responsive.py``). One process acts at a time: a Redis lock (``lock.py``).
"""
