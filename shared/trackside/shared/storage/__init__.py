"""Document storage: MongoDB collections declared in code, and the ClearML query language."""
