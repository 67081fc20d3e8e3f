"""Tag, user, metric and hyper-parameter listings read from one small document per project instead of from
every task or model (issue 18: listings that do not grow with the collection).

``listing_summaries`` holds, per (entity, company, project), the distinct values those listings show::

    {_id: "<entity>:<company>:<project>", entity: "tasks"|"models", company, project, gen, built,
     tags, system_tags, users, metrics: [{metric, metric_hash, variant, variant_hash}],
     params: [[section, name]], values: [[section, name, value]], values_overflow}

A summary is *valid* while ``built == gen``. Every write that may change a listed field raises ``gen`` once it
has landed (:mod:`listing_watch` sees every write to tasks and models through the API's database handle); a
read rebuilds an invalid summary from its project's documents (an index equality: company + project) and
stores it only if ``gen`` did not move meanwhile, so a write racing the rebuild leaves the summary invalid,
never wrong. Metric/variant pairs new to a task (events ingestion, :meth:`metrics_reported`) extend a valid
summary in place with a compare-and-swap on ``gen``, so a task reporting scalars does not make its project's
summary rebuild at every batch.

Company-wide listings read every summary of the company. A database written before summaries existed (or by
something that bypasses the API) gets its projects registered by the first company-wide read: one pass over
the distinct projects, then a marker ``<entity>:<company>:*``. Code that writes tasks or models past the API
(a benchmark's seeding) calls :meth:`ListingSummaries.invalidate` for the projects it wrote to.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from trackside.api.bll.task_params import unescape_key

SUMMARIES = "listing_summaries"
TASKS, MODELS = "tasks", "models"
# A project's distinct hyper-parameter values beyond this are not kept: get_hyperparam_values reads that
# project's tasks instead (a parameter with a value per task, such as a seed, would make the summary huge).
VALUES_CAP = 2_000
SCANNED = {TASKS: {"tags": 1, "system_tags": 1, "user": 1, "hyperparams": 1, "last_metrics": 1},
           MODELS: {"tags": 1, "system_tags": 1, "user": 1, "last_metrics": 1}}


def summary_id(entity: str, company: str | None, project: str | None) -> str:
    return f"{entity}:{company or ''}:{project or ''}"


def metric_entry(metric: str, metric_hash: str, variant: str, variant_hash: str) -> dict:
    """One metric/variant pair, its keys always in this order (MongoDB compares documents key by key)."""
    return {"metric": metric, "metric_hash": metric_hash, "variant": variant, "variant_hash": variant_hash}


def param_items(hyperparams: Any) -> Iterable[dict]:
    """Each stored parameter with its section and name; an item stored without them (a client may send
    ``{section: {name: {value}}}``) takes them from its unescaped keys."""
    for section_key, params in hyperparams.items() if isinstance(hyperparams, dict) else ():
        for name_key, item in params.items() if isinstance(params, dict) else ():
            if not isinstance(item, dict):
                continue
            section, name = item.get("section"), item.get("name")
            yield {**item, "section": section if isinstance(section, str) else unescape_key(section_key),
                   "name": name if isinstance(name, str) else unescape_key(name_key)}


def hashable(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def summarize(docs: Iterable[dict]) -> dict:
    """The listed values of some tasks (or models)."""
    tags, system_tags, users, metrics, params, values = set(), set(), set(), {}, set(), set()
    for doc in docs:
        tags.update(t for t in doc.get("tags") or () if isinstance(t, str))
        system_tags.update(t for t in doc.get("system_tags") or () if isinstance(t, str))
        if doc.get("user"):
            users.add(doc["user"])
        for metric_hash, variants in (doc.get("last_metrics") or {}).items():
            for variant_hash, entry in variants.items() if isinstance(variants, dict) else ():
                if isinstance(entry, dict) and "metric" in entry:
                    metrics.setdefault((entry["metric"], entry.get("variant", "")), metric_entry(
                        entry["metric"], metric_hash, entry.get("variant", ""), variant_hash))
        for item in param_items(doc.get("hyperparams")):
            params.add((item["section"], item["name"]))
            if len(values) <= VALUES_CAP:
                values.add((item["section"], item["name"], hashable(item.get("value"))))
    overflow = len(values) > VALUES_CAP
    return {"tags": sorted(tags), "system_tags": sorted(system_tags), "users": sorted(users),
            "metrics": [metrics[key] for key in sorted(metrics)], "params": [list(p) for p in sorted(params)],
            "values": [] if overflow else [list(v) for v in values], "values_overflow": overflow}


class ListingSummaries:
    def __init__(self, db: Database):
        self.db = db
        self.coll = db[SUMMARIES]

    # -- writes ----------------------------------------------------------------------------------------
    def invalidate(self, entity: str, company: str | None, projects: Iterable[str | None]) -> None:
        """After a write that may change what the projects list: their summaries are rebuilt when next read
        (a project seen for the first time gets its summary document here)."""
        for project in set(projects):
            self._upsert(summary_id(entity, company, project), {"$inc": {"gen": 1}},
                         {"entity": entity, "company": company or "", "project": project, "built": -1})

    def metrics_reported(self, entity: str, company: str, entity_id: str, pairs: Sequence[dict]) -> None:
        """After events added metric/variant pairs (``metric_entry`` dicts) that the task (or model) did not
        have: a valid summary takes them in place; any other is invalidated (a rebuild under way included)."""
        doc = self.db[entity].find_one({"_id": entity_id}, {"company": 1, "project": 1})
        if doc is None:
            return
        key = summary_id(entity, doc.get("company"), doc.get("project"))
        summary = self.coll.find_one({"_id": key}, {"gen": 1, "built": 1, "metrics": 1})
        if summary is not None and summary.get("built") == summary.get("gen"):
            if all(p in summary.get("metrics", []) for p in pairs):
                return
            gen = summary["gen"]
            added = self.coll.update_one({"_id": key, "gen": gen, "built": gen},
                                         {"$addToSet": {"metrics": {"$each": list(pairs)}},
                                          "$inc": {"gen": 1, "built": 1}})
            if added.matched_count:
                return
        self.invalidate(entity, doc.get("company"), [doc.get("project")])

    # -- reads -----------------------------------------------------------------------------------------
    def collect(self, entity: str, companies: Sequence[str], projects: Sequence[str | None] | None) -> list[dict]:
        """The valid summaries of ``projects`` (every project of the companies when None), rebuilt where
        needed."""
        if projects is None:
            for company in companies:
                self._register_projects(entity, company)
            docs = list(self.coll.find({"entity": entity, "company": {"$in": list(companies)}}))
        else:
            wanted = [(c, p) for c in companies for p in dict.fromkeys(projects)]
            found = {d["_id"]: d for d in self.coll.find(
                {"_id": {"$in": [summary_id(entity, c, p) for c, p in wanted]}})}
            docs = [found.get(summary_id(entity, c, p)) or self._created(entity, c, p) for c, p in wanted]
        return [d if d.get("built") == d.get("gen") else self._rebuilt(d) for d in docs]

    def _created(self, entity: str, company: str, project: str | None) -> dict:
        key = summary_id(entity, company, project)
        self._upsert(key, {"$setOnInsert": {"gen": 0}},
                     {"entity": entity, "company": company, "project": project, "built": -1})
        return self.coll.find_one({"_id": key})

    def _rebuilt(self, doc: dict) -> dict:
        gen = doc.get("gen", 0)
        found = self.db[doc["entity"]].find({"company": doc["company"], "project": doc["project"]},
                                            SCANNED[doc["entity"]])
        lists = summarize(found)
        self.coll.update_one({"_id": doc["_id"], "gen": gen}, {"$set": {**lists, "built": gen}})
        return {**doc, **lists, "built": gen, "gen": gen}

    def _register_projects(self, entity: str, company: str) -> None:
        marker = summary_id(entity, company, "*")
        if self.coll.find_one({"_id": marker}, {"_id": 1}):
            return
        for project in self.db[entity].distinct("project", {"company": company}):
            self._upsert(summary_id(entity, company, project), {"$setOnInsert": {"gen": 0}},
                         {"entity": entity, "company": company, "project": project, "built": -1})
        self._upsert(summary_id(entity, company, None), {"$setOnInsert": {"gen": 0}},
                     {"entity": entity, "company": company, "project": None, "built": -1})
        self._upsert(marker, {"$set": {"registered": True}}, {})

    def _upsert(self, key: str, update: dict, on_insert: dict) -> None:
        inserted = {**update.get("$setOnInsert", {}), **on_insert}
        update = {**{k: v for k, v in update.items() if k != "$setOnInsert"},
                  **({"$setOnInsert": inserted} if inserted else {})}
        try:
            self.coll.update_one({"_id": key}, update, upsert=True)
        except DuplicateKeyError:  # two first writes at once: the other created it; apply ours to it
            rest = {k: v for k, v in update.items() if k != "$setOnInsert"}
            if rest:
                self.coll.update_one({"_id": key}, rest)
