"""tasks.*: the task lifecycle."""
