"""storage.*: see ARCHITECTURE.md (endpoint table)."""
