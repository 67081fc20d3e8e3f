"""``server.get_stats``: the usage report the reference would send home, computed on demand and never sent.

Server part: version, deployment type, counts of queues and users, this API process's CPU and memory since
the previous report (one sample: nothing samples in the background, as in the reference with reporting
off), and run statistics of started tasks. Agent part, per worker seen in its machine statistics: resources
over the last day and run statistics of its tasks over the last 30 days.
"""
from __future__ import annotations

import os
import time
from datetime import timedelta

import psutil
from pymongo.database import Database

from trackside.api import SERVER_VERSION
from trackside.shared.timeutil import utcnow

REPORT_INTERVAL = timedelta(hours=24)
AGENT_RELEVANT = timedelta(days=30)
# Worker machine statistics -> the names the reference reports them under.
_AGENT_METRICS = {"cpu_usage": "cpu_usage", "memory_used": "mem_used_gb", "memory_free": "mem_free_gb"}
_GB = 1024 ** 3


class ServerStats:
    def __init__(self, backend: Database, auth_db: Database):
        self._backend = backend
        self._auth = auth_db
        self._last_report = time.monotonic()

    def report(self, company: str) -> dict:
        return {
            "time": utcnow(),
            "company_id": company,
            "server": {
                "version": SERVER_VERSION,
                "deployment": os.environ.get("CLEARML_DEPLOYMENT_TYPE", "manual"),
                "uuid": company,
                "queues": {"count": self._backend["queues"].count_documents({"company": company})},
                "users": {"count": self._auth["users"].count_documents({"company": company})},
                "resources": self._resources(),
                "experiments": next(iter(self._run_stats(company).values()), {}),
            },
            "agents": self._agents(company),
        }

    def _resources(self) -> dict:
        now = time.monotonic()
        interval, self._last_report = now - self._last_report, now
        memory = psutil.virtual_memory()
        sample = {"cpu_usage": psutil.cpu_percent(), "mem_used_gb": memory.used / _GB,
                  "mem_free_gb": memory.free / _GB}
        return {"interval_sec": interval, "num_cores": psutil.cpu_count(),
                **{k: {"min": v, "max": v, "avg": v} for k, v in sample.items()}}

    def _run_stats(self, company: str, workers: list[str] | None = None) -> dict:
        """Started tasks' count, mean run time and mean last iteration, overall or per last worker."""
        match = {
            "company": company,
            "started": {"$exists": True, "$ne": None},
            "last_update": {"$exists": True, "$ne": None},
            "status": {"$nin": ["created", "queued"]},
            **({"last_worker": {"$in": workers}} if workers else {}),
        }
        pipeline = [
            {"$match": match},
            {"$group": {"_id": "$last_worker" if workers else None, "count": {"$sum": 1},
                        "run_ms": {"$avg": {"$subtract": ["$last_update", "$started"]}},
                        "iterations": {"$avg": "$last_iteration"}}},
        ]
        return {
            row["_id"]: {
                "count": row["count"],
                "avg_run_time_sec": int(row["run_ms"] / 1000) if row.get("run_ms") is not None else None,
                "avg_iterations": int(row["iterations"]) if row.get("iterations") is not None else None,
            }
            for row in self._backend["tasks"].aggregate(pipeline)
        }

    def _agents(self, company: str) -> list[dict]:
        stats = self._backend["worker_stats"]
        now = utcnow()
        agents: dict[str, dict] = {}
        for doc in stats.find({"company": company, "time": {"$gte": now - REPORT_INTERVAL}},
                              {"worker": 1, "stats": 1}):
            agent = agents.setdefault(doc["worker"], {"cores": 0, "values": {}})
            agent["cores"] = max(agent["cores"], len(doc["stats"].get("cpu_usage", [])))
            for metric, name in _AGENT_METRICS.items():
                agent["values"].setdefault(name, []).extend(doc["stats"].get(metric, []))
        result = {
            worker: {"resources": {
                "interval_sec": REPORT_INTERVAL.total_seconds(),
                **({"num_cores": data["cores"]} if data["cores"] else {}),
                **{name: {"min": min(v), "max": max(v), "avg": sum(v) / len(v)}
                   for name, v in data["values"].items() if v},
            }}
            for worker, data in agents.items()
        }
        last_activity = {
            row["_id"]: row["last"]
            for row in stats.aggregate([
                {"$match": {"company": company, "time": {"$gte": now - AGENT_RELEVANT}}},
                {"$group": {"_id": "$worker", "last": {"$max": "$time"}}},
            ])
        }
        if last_activity:
            for worker, run in self._run_stats(company, sorted(last_activity)).items():
                experiments = {"last_activity_time": last_activity[worker].timestamp() * 1000, **run}
                result.setdefault(worker, {})["experiments"] = experiments
        return [{"uuid": worker, **data} for worker, data in result.items()]
