"""Trackside UI-actions service: runs the custom context-menu actions of ``organization.ui_actions``.

Built in a later stage; this package holds its place in the suite's layout.
"""
