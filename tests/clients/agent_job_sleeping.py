"""A job for the agent that runs until it is stopped (tasks.stop): prints a marker line, then sleeps."""
import time

print("agent job sleeping", flush=True)
time.sleep(600)
print("agent job was not stopped", flush=True)
