"""Tag, user, metric and hyper-parameter listings read from one small document per project instead of from
every task or model (issue 18: listings that do not grow with the collection).

``listing_summaries`` holds, per (entity, company, project), the distinct values those listings show::

    {_id: "<entity>:<company>:<project>", entity: "tasks"|"models", company, project, gen: {kind: n},
     built: {kind: n}, tags, system_tags, users, metrics: [{metric, metric_hash, variant, variant_hash}],
     params: [[section, name]], values: [[section, name, value]], values_overflow}

Each *kind* of list (tags, system tags, users, metrics, parameters with their values) has its own generation:
it is valid while ``built.<kind> == gen.<kind>``. A write that may remove a listed value raises the
generations of the kinds it touches once it has landed (:mod:`listing_watch` sees every write to tasks and
models through the API's database handle); a read rebuilds the invalid kinds it needs from the project's
documents (an index equality: company + project) and stores them only if their generations did not move
meanwhile, so a write racing the rebuild leaves them invalid, never wrong. Writes that only add (a new task,
metric/variant pairs new to a task from events ingestion: :meth:`metrics_reported`) extend valid lists in
place with a compare-and-swap that also raises the generations, so creating tasks or reporting scalars keeps
the summaries valid; a task starting (a system tag dropped) invalidates only its project's system tags.

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
# What a summary lists, in kinds that are invalidated and rebuilt on their own (a task starting drops a system
# tag: its project's tags, owners, metrics and parameters stay valid): the lists of each kind, the document
# field they come from.
KINDS = ("tags", "system_tags", "users", "metrics", "params")
LISTS = {"tags": ("tags",), "system_tags": ("system_tags",), "users": ("users",), "metrics": ("metrics",),
         "params": ("params", "values", "values_overflow")}
# The field after company and project in each collection's index: a walk in its order stops at the first match.
ORDER_FIELD = {TASKS: "last_update", MODELS: "created"}
SCANNED = {"tags": "tags", "system_tags": "system_tags", "users": "user", "metrics": "last_metrics",
           "params": "hyperparams"}


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


def _valid(doc: dict, kind: str) -> bool:
    gen, built = doc.get("gen"), doc.get("built")
    return isinstance(gen, dict) and isinstance(built, dict) and kind in gen and built.get(kind) == gen[kind]


def _lacks(doc: dict, kind: str, added: dict) -> bool:
    """Whether ``added`` (a summary) holds a value of ``kind`` that ``doc`` does not list."""
    fields = [f for f in LISTS[kind] if f != "values_overflow" and not (f == "values" and doc.get("values_overflow"))]
    return any(v not in (doc.get(field) or []) for field in fields for v in added.get(field) or ())


class ListingSummaries:
    def __init__(self, db: Database):
        self.db = db
        self.coll = db[SUMMARIES]

    # -- writes ----------------------------------------------------------------------------------------
    def invalidate(self, entity: str, company: str | None, projects: Iterable[str | None],
                   kinds: Iterable[str] = KINDS) -> None:
        """After a write that may change what the projects list (of ``kinds``): those summaries are rebuilt
        when next read (a project seen for the first time gets its summary document here)."""
        kinds = set(kinds)
        for project in set(projects):
            self._upsert(summary_id(entity, company, project), {"$inc": {f"gen.{k}": 1 for k in kinds}},
                         {**self._identity(entity, company, project),
                          **{f"gen.{k}": 0 for k in KINDS if k not in kinds}})

    def add(self, entity: str, company: str | None, project: str | None, added: dict,
            kinds: Iterable[str] = KINDS) -> None:
        """After a write that only added values (``added``: a :func:`summarize` of the new documents, or the
        lists of some ``kinds``): a valid summary takes them in place, with a compare-and-swap that also
        fails any rebuild under way; an invalid one is invalidated again (which fails a rebuild under way)."""
        key = summary_id(entity, company, project)
        doc = self.coll.find_one({"_id": key})
        kinds = set(kinds)
        stale = {k for k in kinds if doc is None or not _valid(doc, k)}
        extend = {k for k in kinds - stale if _lacks(doc, k, added)}
        if "params" in extend and not doc.get("values_overflow") and \
                len(doc.get("values") or []) + len(added.get("values") or []) > VALUES_CAP:
            extend.discard("params")  # the rebuild decides to stop keeping the values
            stale.add("params")
        if extend:
            fields = [f for k in extend for f in LISTS[k] if f != "values_overflow"
                      and not (f == "values" and doc.get("values_overflow"))]
            changed = self.coll.update_one(
                {"_id": key, **{f"{side}.{k}": doc["gen"][k] for k in extend for side in ("gen", "built")}},
                {"$addToSet": {f: {"$each": list(added.get(f) or [])} for f in fields},
                 "$inc": {f"{side}.{k}": 1 for k in extend for side in ("gen", "built")}})
            if not changed.matched_count:
                stale |= extend
        if stale:
            self.invalidate(entity, company, [project], stale)

    def retag(self, entity: str, company: str, project: str | None, changes: dict[str, tuple[set, set]]) -> None:
        """After tags (or system tags) of some documents of a project changed: ``changes`` maps the field to the
        values (added, removed). A valid summary takes the added values and drops the removed ones no other
        document of the project still carries (one index walk that stops at the first holder), with a
        compare-and-swap; otherwise the kinds are invalidated."""
        key, kinds = summary_id(entity, company, project), list(changes)
        doc = self.coll.find_one({"_id": key}, {"gen": 1, "built": 1, **{k: 1 for k in kinds}})
        if doc is None or not all(_valid(doc, k) for k in kinds):
            self.invalidate(entity, company, [project], kinds)
            return
        lists = {}
        for field, (added, removed) in changes.items():
            gone = {tag for tag in removed if self.db[entity].find_one(
                {"company": company, "project": project, field: tag}, {"_id": 1},
                sort=[(ORDER_FIELD[entity], -1)]) is None}
            lists[field] = sorted((set(doc.get(field) or []) | added) - gone)
        changed = self.coll.update_one(
            {"_id": key, **{f"{side}.{k}": doc["gen"][k] for k in kinds for side in ("gen", "built")}},
            {"$set": lists, "$inc": {f"{side}.{k}": 1 for k in kinds for side in ("gen", "built")}})
        if not changed.matched_count:
            self.invalidate(entity, company, [project], kinds)

    def metrics_reported(self, entity: str, company: str, entity_id: str, pairs: Sequence[dict]) -> None:
        """After events added metric/variant pairs (``metric_entry`` dicts) that the task (or model) did not
        have."""
        doc = self.db[entity].find_one({"_id": entity_id}, {"company": 1, "project": 1})
        if doc is not None:
            self.add(entity, doc.get("company"), doc.get("project"), {"metrics": list(pairs)}, ("metrics",))

    # -- reads -----------------------------------------------------------------------------------------
    def collect(self, entity: str, companies: Sequence[str], projects: Sequence[str | None] | None,
                kinds: Sequence[str]) -> list[dict]:
        """The summaries of ``projects`` (every project of the companies when None), valid for ``kinds``:
        rebuilt where needed."""
        # Only the lists asked for, and what tells whether they are valid.
        projection = {"entity": 1, "company": 1, "project": 1, "gen": 1, "built": 1,
                      **{f: 1 for k in kinds for f in LISTS[k]}}
        if projects is None:
            for company in companies:
                self._register_projects(entity, company)
            docs = list(self.coll.find({"entity": entity, "company": {"$in": list(companies)}}, projection))
        else:
            wanted = [(c, p) for c in companies for p in dict.fromkeys(projects)]
            found = {d["_id"]: d for d in self.coll.find(
                {"_id": {"$in": [summary_id(entity, c, p) for c, p in wanted]}}, projection)}
            docs = [found.get(summary_id(entity, c, p)) or self._created(entity, c, p) for c, p in wanted]
        # A project read for one stale kind is read for all its stale kinds: after a bulk change (a move, a
        # restore) the next listings of other kinds do not read it again.
        return [self._rebuilt(d, [k for k in KINDS if not _valid(d, k)])
                if any(not _valid(d, k) for k in kinds) else d for d in docs]

    @staticmethod
    def _identity(entity: str, company: str | None, project: str | None) -> dict:
        return {"entity": entity, "company": company or "", "project": project}

    def _created(self, entity: str, company: str, project: str | None) -> dict:
        key = summary_id(entity, company, project)
        self._upsert(key, {}, {**self._identity(entity, company, project), **{f"gen.{k}": 0 for k in KINDS}})
        return self.coll.find_one({"_id": key})

    def _rebuilt(self, doc: dict, kinds: Sequence[str]) -> dict:
        """``doc`` with the lists of ``kinds`` read from its project's documents; stored unless a write
        raised one of their generations meanwhile."""
        gens = {k: (doc.get("gen") or {}).get(k, 0) for k in kinds}
        projection = {SCANNED[k]: 1 for k in kinds}
        found = self.db[doc["entity"]].find({"company": doc["company"], "project": doc["project"]}, projection)
        lists = {f: v for f, v in summarize(found).items() if any(f in LISTS[k] for k in kinds)}
        built = {f"built.{k}": g for k, g in gens.items()}
        self.coll.update_one({"_id": doc["_id"], **{f"gen.{k}": g for k, g in gens.items()}},
                             {"$set": {**lists, **built}})
        return {**doc, **lists}

    def _register_projects(self, entity: str, company: str) -> None:
        marker = summary_id(entity, company, "*")
        if self.coll.find_one({"_id": marker}, {"_id": 1}):
            return
        for project in {*self.db[entity].distinct("project", {"company": company}), None}:
            self._created(entity, company, project)
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
