"""Trackside watchdog: stops in-progress tasks that stopped reporting
(``services.tasks.non_responsive_tasks_watchdog``).

Built in a later stage; this package holds its place in the suite's layout.
"""
