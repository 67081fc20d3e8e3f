"""reports.*: see ARCHITECTURE.md (endpoint table)."""
