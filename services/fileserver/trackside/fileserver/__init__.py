"""Trackside file server (port 8081): artifacts, models and debug images behind the API's tokens.

Built in the events-and-artifacts stage; this package holds its place in the suite's layout.
"""
