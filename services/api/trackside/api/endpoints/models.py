"""models.*: the model registry."""
