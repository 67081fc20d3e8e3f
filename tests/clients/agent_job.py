"""A job for the agent: prints a marker line and ends."""
print("agent job says hello", flush=True)
