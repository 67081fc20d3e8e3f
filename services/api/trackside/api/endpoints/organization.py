"""organization.*: see ARCHITECTURE.md (endpoint table)."""
