"""pipelines.*: see ARCHITECTURE.md (endpoint table)."""
