"""serving.*: see ARCHITECTURE.md (endpoint table)."""
