"""Tasks: creation, edits, status transitions, cloning, and the per-project statistics."""
from __future__ import annotations

from datetime import timedelta

from pymongo.database import Database

from trackside.shared.timeutil import utcnow

TASK_STATUSES = ("created", "queued", "in_progress", "stopped", "published", "publishing", "closed", "failed",
                 "completed", "unknown")


class TasksBLL:
    def __init__(self, db: Database, projects, queues, models):
        self.coll = db["tasks"]
        self.projects = projects
        self.queues = queues
        self.models = models

    def project_stats(self, company: str, project_ids: list[str], state: str = "active") -> dict[str, dict]:
        """Task counts per status over each project's sub-tree, for projects.get_all_ex."""
        archived = {"system_tags": "archived"} if state == "archived" else {"system_tags": {"$ne": "archived"}}
        day_ago = utcnow() - timedelta(days=1)
        stats = {}
        for pid in project_ids:
            subtree = self.projects.subtree_ids(company, pid)
            match = {"company": company, "project": {"$in": subtree}, **archived}
            counts = {s: 0 for s in TASK_STATUSES}
            for row in self.coll.aggregate([{"$match": match}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
                counts[row["_id"] or "unknown"] = row["n"]
            completed_24h = self.coll.count_documents(
                {**match, "status": {"$in": ["completed", "published"]}, "completed": {"$gte": day_ago}}
            )
            stats[pid] = {state: {"status_count": counts, "total_tasks": sum(counts.values()),
                                  "completed_tasks_24h": completed_24h, "total_runtime": 0}}
        return stats

    def user_ids(self, company: str, project_ids: list[str] | None) -> list[str]:
        query: dict = {"company": company}
        if project_ids:
            query["project"] = {"$in": project_ids}
        return [u for u in self.coll.distinct("user", query) if u]
