"""Models: registered weights files and their metadata."""
from __future__ import annotations

from pymongo.database import Database


class ModelsBLL:
    def __init__(self, db: Database, projects):
        self.coll = db["models"]
        self.projects = projects
