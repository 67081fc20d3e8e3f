"""Test support: starting the suite's real processes and talking to them over HTTP."""
