"""Project statistics kept incrementally, so ``projects.get_all_ex`` with ``include_stats`` reads a few small
documents instead of every task of the projects.

What one task adds to its project's figures is its *contribution*: the section (archived or active), the kind
(which of :data:`KIND_TAGS` it carries, so the web app's ``-pipeline/-dataset/...`` stats filter can be
answered), its status, its run time, its start time and the hour it completed in. Two collections:

- ``task_counter_stamps``: per task, the contribution last counted ``{_id: task, p: counter id, c: [...]}``;
- ``project_counters``: per (company, project), the sums of its stamps per section and kind
  ``{_id: "<company>:<project>", b: {"<section>|<kind>": {n: {status: count}, rt, h: {hour: count}, ls}}}``.

:meth:`ProjectCounters.reconcile` brings one task's stamp up to date with the task: it compares the task as
stored with its stamp, swaps the stamp with a compare-and-swap on the old value, and only the caller whose swap
landed applies the difference with ``$inc``. Two processes reconciling one task never count it twice, and any
reconcile after the last write of a task leaves it counted exactly, whatever wrote it. Every write path that
changes a counted field calls it afterwards.

Self-healing: a counter document that is missing, not built, marked stale (the latest-started task left it,
so ``ls`` may be too high) or negative is rebuilt from the project's stamps (:meth:`rebuild`, guarded by a
version so a concurrent write makes it retry); :meth:`heal` re-reconciles every task of a project whose figures
disagree with a recomputation (:meth:`recompute`); :func:`backfill` creates every stamp of an existing database.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from trackside.shared.timeutil import utcnow

STAMPS, COUNTERS = "task_counter_stamps", "project_counters"
ARCHIVED, ACTIVE = "archived", "active"
# System tags the web app's statistics filter names (projects page: -pipeline -dataset -Annotation -report).
KIND_TAGS = ("Annotation", "dataset", "pipeline", "report", "reports")
# Task types the pipelines and reports pages count by (stats filter type: [controller] / [report]).
KIND_TYPES = ("controller", "report")
# Task fields a contribution depends on: a write that touches none of them leaves the counters as they are.
COUNTED_FIELDS = ("company", "project", "status", "system_tags", "type", "started", "completed")
TASK_PROJECTION = {f: 1 for f in COUNTED_FIELDS}
# Tasks in these statuses are not "completed in the last 24 hours" even with a completion time.
NOT_FINISHED = ("queued", "in_progress", "failed")
ATTEMPTS = 8
# A reconcile that announced itself (``pend``) longer ago than this died before it finished: a rebuild
# no longer waits for it.
PENDING_STALE = timedelta(seconds=30)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Counters read per query: the embedded store matches each document against the whole ``$in`` list, so one
# query over 600 ids costs ~15x one over 100 (measured 650 ms against 40 ms).
READ_BATCH = 100


def touches_counted(update: Mapping[str, Any]) -> bool:
    """Whether an update document may change a contribution (any operator on a counted field)."""
    for op, fields in update.items():
        if not op.startswith("$"):
            return True  # a replacement
        if isinstance(fields, Mapping) and any(str(path).split(".")[0] in COUNTED_FIELDS for path in fields):
            return True
    return False


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _millis(value: datetime) -> int:
    return int((value - _EPOCH) / timedelta(milliseconds=1))


def hour_of(value: datetime) -> int:
    return int((value - _EPOCH) // timedelta(hours=1))


def recent_floor() -> int:
    """The hour 24 hours ago: completions in it or before are counted by a query or not at all, and the hour
    only moves forward, so counters keep the later hours only (a few dozen keys, never the whole history)."""
    return hour_of(utcnow() - timedelta(hours=24))


def counter_id(company: str | None, project: str) -> str:
    return f"{company or ''}:{project}"


# Set once a public task (company "") is first counted, never removed: until then readers skip the public
# counters, half of the documents a listing would read.
PUBLIC_MARK = "~public"


def is_public(cid: str) -> bool:
    return cid.startswith(":")


def bucket_key(section: str, kinds: Iterable[str], type_: str = "") -> str:
    return f"{section}|{'+'.join(sorted(kinds))}|{type_}"


def parse_bucket(key: str) -> tuple[str, set[str], str]:
    """(section, kind tags, kind type or "")."""
    section, kinds, type_ = (key.split("|") + ["", ""])[:3]
    return section, set(kinds.split("+")) if kinds else set(), type_


def contribution(task: Mapping[str, Any] | None) -> tuple[str, list] | None:
    """(counter id, [bucket, status, runtime seconds, started ms or None, completed hour or None]) of a task
    as stored; None for no task or a task in no project."""
    if not task or not task.get("project"):
        return None
    tags = task.get("system_tags") if isinstance(task.get("system_tags"), list) else []
    section = ARCHIVED if ARCHIVED in tags else ACTIVE
    status = task.get("status") or "unknown"
    started, completed = _aware(task.get("started")), _aware(task.get("completed"))
    runtime = math.floor((completed - started).total_seconds()) if started and completed and completed > started \
        else 0
    done_hour = hour_of(completed) if completed and status not in NOT_FINISHED else None
    return counter_id(task.get("company"), task["project"]), [
        bucket_key(section, (t for t in KIND_TAGS if t in tags), task.get("type") if task.get("type") in KIND_TYPES
                   else ""), status, runtime,
        _millis(started) if started else None, done_hour]


def _add(bucket: dict, c: list, sign: int) -> None:
    """Add (sign 1) or remove (-1) contribution values ``c`` into a plain bucket dict (rebuilds, recomputes)."""
    _, status, runtime, started, hour = c
    counts = bucket.setdefault("n", {})
    counts[status] = counts.get(status, 0) + sign
    bucket["rt"] = bucket.get("rt", 0) + sign * runtime
    if hour is not None and hour > recent_floor():
        hours = bucket.setdefault("h", {})
        hours[str(hour)] = hours.get(str(hour), 0) + sign
    if started is not None and sign > 0:
        bucket["ls"] = max(bucket.get("ls") or started, started)


def sum_contributions(contributions: Iterable[list]) -> dict[str, dict]:
    buckets: dict[str, dict] = {}
    for c in contributions:
        _add(buckets.setdefault(c[0], {}), c, 1)
    return buckets


class ProjectCounters:
    def __init__(self, db: Database):
        self.tasks: Collection = db["tasks"]
        self.stamps: Collection = db[STAMPS]
        self.counters: Collection = db[COUNTERS]

    @staticmethod
    def ensure_indexes(db: Database) -> None:
        db[STAMPS].create_index([("p", 1)], name="p_1")

    # -- writing ---------------------------------------------------------------------------------------
    def reconcile_many(self, task_ids: Iterable[str]) -> None:
        for task_id in dict.fromkeys(task_ids):
            self.reconcile(task_id)

    def reconcile(self, task_id: str) -> bool:
        """Bring the task's stamp and its projects' counters up to date with the task; False if it kept
        losing races (the counters stay exact: the stamp still says what is counted)."""
        for _ in range(ATTEMPTS):
            task = self.tasks.find_one({"_id": task_id}, TASK_PROJECTION)
            new = contribution(task)
            stamp = self.stamps.find_one({"_id": task_id})
            old = (stamp["p"], stamp["c"]) if stamp else None
            if old == new:
                return True
            ids = list(dict.fromkeys(x[0] for x in (old, new) if x))
            self._announce(ids, 1)
            try:
                swapped = self._swap_stamp(task_id, old, new)
            except Exception:
                self._announce(ids, -1)
                raise
            if not swapped:
                self._announce(ids, -1)
                continue
            self._apply(old, new)
            return True
        return False

    def _swap_stamp(self, task_id: str, old: tuple | None, new: tuple | None) -> bool:
        if old is None:
            try:
                self.stamps.insert_one({"_id": task_id, "p": new[0], "c": new[1]})
                return True
            except DuplicateKeyError:
                return False
        match = {"_id": task_id, "p": old[0], "c": old[1]}
        if new is None:
            return self.stamps.delete_one(match).deleted_count == 1
        return self.stamps.update_one(match, {"$set": {"p": new[0], "c": new[1]}}).matched_count == 1

    def _announce(self, ids: list[str], step: int) -> None:
        """A reconcile in flight on these counters (``pend``): a rebuild does not overwrite them meanwhile."""
        for cid in ids:
            update: dict = {"$inc": {"pend": step, "v": 1}}
            if step > 0:
                update["$max"] = {"pend_at": utcnow()}
                update["$setOnInsert"] = {"built": False}
            self._upsert(cid, update)

    def _upsert(self, cid: str, update: dict) -> None:
        for _ in range(ATTEMPTS):
            try:
                self.counters.update_one({"_id": cid}, update, upsert=True)
                return
            except DuplicateKeyError:  # two first writes of one counter: the other inserted it, update it
                continue

    def _apply(self, old: tuple | None, new: tuple | None) -> None:
        """The difference between two contributions, with the announcement withdrawn in the same write."""
        if new and is_public(new[0]):
            self.mark_public()  # before the counts: a reader that sees them also reads them
        updates: dict[str, dict] = {}
        floor = recent_floor()
        for entry, sign in ((old, -1), (new, 1)):
            if not entry:
                continue
            cid, (bucket, status, runtime, started, hour) = entry
            update = updates.setdefault(cid, {"$inc": {}, "$max": {}})
            inc = update["$inc"]
            prefix = f"b.{bucket}."
            inc[f"{prefix}n.{status}"] = inc.get(f"{prefix}n.{status}", 0) + sign
            if runtime:
                inc[f"{prefix}rt"] = inc.get(f"{prefix}rt", 0) + sign * runtime
            if hour is not None and hour > floor:
                inc[f"{prefix}h.{hour}"] = inc.get(f"{prefix}h.{hour}", 0) + sign
            if started is not None and sign > 0:
                update["$max"][f"{prefix}ls"] = started
        for cid, update in updates.items():
            update["$inc"] = {k: v for k, v in update["$inc"].items() if v}
            update["$inc"].update(pend=-1, v=1)
            if not update["$max"]:
                del update["$max"]
            self._upsert(cid, update)
        # The latest start left its bucket: the maximum may be lower now, the next read rebuilds it.
        if old and old[1][3] is not None:
            same_place = new and new[0] == old[0] and new[1][0] == old[1][0]
            if not (same_place and new[1][3] is not None and new[1][3] >= old[1][3]):
                self.counters.update_one({"_id": old[0], f"b.{old[1][0]}.ls": old[1][3]}, {"$set": {"stale": True}})

    def mark_public(self) -> None:
        self.counters.update_one({"_id": PUBLIC_MARK}, {"$set": {"built": True}}, upsert=True)

    def owner_ids(self, company: str, project_ids: Iterable[str]) -> dict[str, str]:
        """{counter id: project} of the caller's counters and, once public tasks exist, the public ones."""
        companies = [company]
        if company and self.counters.find_one({"_id": PUBLIC_MARK}, {"_id": 1}):
            companies.append("")
        return {counter_id(c, pid): pid for pid in project_ids for c in companies}

    def drop_projects(self, cids: Iterable[str]) -> None:
        """Every task of these counters was deleted or left its project in one bulk write: stamps and counters
        go (by the stamps' index, in proportion to the projects)."""
        cids = list(cids)
        self.stamps.delete_many({"p": {"$in": cids}})
        self.counters.delete_many({"_id": {"$in": cids}})

    def move_project(self, source: str, destination: str) -> None:
        """Every task of counter ``source`` moved to ``destination`` in one bulk write (a project merge)."""
        self.stamps.update_many({"p": source}, {"$set": {"p": destination}})
        self.counters.delete_many({"_id": source})
        self._upsert(destination, {"$set": {"stale": True}, "$inc": {"v": 1}})

    # -- reading ---------------------------------------------------------------------------------------
    def read(self, cids: list[str]) -> dict[str, dict]:
        """The buckets of each counter id, rebuilt from the stamps where the stored ones can't be trusted."""
        found: dict[str, dict] = {}
        for start in range(0, len(cids), READ_BATCH):
            found.update((d["_id"], d) for d in self.counters.find({"_id": {"$in": cids[start:start + READ_BATCH]}}))
        result = {}
        floor = recent_floor()
        for cid in cids:
            doc = found.get(cid)
            if doc is None or not doc.get("built") or doc.get("stale") or _negative(doc.get("b") or {}):
                result[cid] = self.rebuild(cid)
                continue
            result[cid] = doc.get("b") or {}
            aged = {f"b.{key}.h.{hour}": 1 for key, bucket in result[cid].items()
                    for hour in (bucket.get("h") or {}) if int(hour) <= floor}
            if aged:  # hours that left the 24-hour window: dropped so the document stays small
                self.counters.update_one({"_id": cid}, {"$unset": aged})
        return result

    def rebuild(self, cid: str) -> dict[str, dict]:
        """The counters summed from the stamps of ``cid``; stored unless a reconcile is under way."""
        buckets: dict[str, dict] = {}
        for _ in range(3):
            doc = self.counters.find_one({"_id": cid})
            buckets = sum_contributions(s["c"] for s in self.stamps.find({"p": cid}, {"c": 1}))
            pend_at = _aware(doc.get("pend_at")) if doc else None
            if doc and doc.get("pend", 0) > 0 and pend_at and utcnow() - pend_at < PENDING_STALE:
                return buckets  # writes in flight: answer from the stamps, store nothing
            fields = {"b": buckets, "built": True, "stale": False, "pend": 0, "checked": utcnow()}
            if doc is None:
                try:
                    self.counters.insert_one({"_id": cid, "v": 0, **fields})
                    return buckets
                except DuplicateKeyError:
                    continue
            if self.counters.update_one({"_id": cid, "v": doc.get("v", 0)}, {"$set": fields}).matched_count:
                return buckets
        return buckets

    # -- checking --------------------------------------------------------------------------------------
    def recompute(self, company: str, project: str) -> dict[str, dict]:
        """The counters as a scan of the project's tasks gives them (the check; proportional to the project)."""
        tasks = self.tasks.find({"company": company, "project": project}, TASK_PROJECTION)
        return sum_contributions(c[1] for c in map(contribution, tasks) if c)

    def agrees(self, company: str, project: str) -> bool:
        """The consistency check: the counters as read equal a recomputation from the tasks."""
        cid = counter_id(company, project)
        return normalized(self.read([cid])[cid]) == normalized(self.recompute(company, project))

    def heal(self, company: str, project: str) -> bool:
        """Re-reconcile every task the project's counters or stamps name if they disagree with a recomputation;
        True when something was wrong."""
        cid = counter_id(company, project)
        if self.agrees(company, project):
            return False
        ids = [t["_id"] for t in self.tasks.find({"company": company, "project": project}, {"_id": 1})]
        ids += [s["_id"] for s in self.stamps.find({"p": cid}, {"_id": 1})]
        self.reconcile_many(ids)
        self.counters.update_one({"_id": cid}, {"$set": {"stale": True}})
        self.read([cid])
        return True


def normalized(buckets: Mapping[str, dict]) -> dict:
    """Buckets without the zero entries increments leave behind and the hours out of the window (comparisons)."""
    out, floor = {}, recent_floor()
    for key, bucket in buckets.items():
        counts = {s: n for s, n in (bucket.get("n") or {}).items() if n}
        hours = {h: n for h, n in (bucket.get("h") or {}).items() if n and int(h) > floor}
        if counts or hours or bucket.get("rt"):
            out[key] = {"n": counts, "h": hours, "rt": bucket.get("rt", 0), "ls": bucket.get("ls")}
    return out


def _negative(buckets: Mapping[str, dict]) -> bool:
    return any(n < 0 for b in buckets.values() for n in (b.get("n") or {}).values())


def count_inserted(db: Database, docs: Iterable[Mapping[str, Any]]) -> None:
    """Counters for tasks just written with insert_many (seeding, benchmarks): their stamps in one bulk insert
    and one ``$inc`` per project, instead of a reconcile per task. Stamps that already exist are reconciled."""
    stamps, counters = db[STAMPS], ProjectCounters(db)
    found = [(doc["_id"], contribution(doc)) for doc in docs]
    found = [(task_id, c) for task_id, c in found if c]
    try:
        if found:
            stamps.insert_many([{"_id": task_id, "p": c[0], "c": c[1]} for task_id, c in found], ordered=False)
        fresh = found
    except BulkWriteError as exc:
        failed = {found[e["index"]][0] for e in exc.details.get("writeErrors", [])}
        counters.reconcile_many(failed)
        fresh = [(task_id, c) for task_id, c in found if task_id not in failed]
    if any(is_public(c[0]) for _, c in fresh):
        counters.mark_public()
    per_counter: dict[str, list[list]] = {}
    for _, (cid, c) in fresh:
        per_counter.setdefault(cid, []).append(c)
    for cid, contributions in per_counter.items():
        inc: dict[str, int] = {"v": 1}
        latest: dict[str, int] = {}
        for key, bucket in sum_contributions(contributions).items():
            for status, n in bucket.get("n", {}).items():
                inc[f"b.{key}.n.{status}"] = n
            if bucket.get("rt"):
                inc[f"b.{key}.rt"] = bucket["rt"]
            for hour, n in (bucket.get("h") or {}).items():
                inc[f"b.{key}.h.{hour}"] = n
            if bucket.get("ls") is not None:
                latest[f"b.{key}.ls"] = bucket["ls"]
        counters._upsert(cid, {"$inc": inc, **({"$max": latest} if latest else {}),
                               "$setOnInsert": {"built": False}})


def backfill(db: Database, progress=lambda: None, batch: int = 1000) -> int:
    """Stamps for every task of a database written before the counters, then every counter rebuilt (run
    once, by the migration; idempotent: existing stamps are kept)."""
    ProjectCounters.ensure_indexes(db)
    stamps, docs, created = db[STAMPS], [], 0

    def flush() -> int:
        if not docs:
            return 0
        try:
            n = len(stamps.insert_many(docs, ordered=False).inserted_ids)
        except BulkWriteError as exc:
            n = exc.details.get("nInserted", 0)
        docs.clear()
        progress()
        return n

    for task in db["tasks"].find({}, TASK_PROJECTION, batch_size=batch):
        c = contribution(task)
        if c:
            docs.append({"_id": task["_id"], "p": c[0], "c": c[1]})
        if len(docs) >= batch:
            created += flush()
    created += flush()
    counters = ProjectCounters(db)
    db[COUNTERS].delete_many({})
    for cid in stamps.distinct("p"):
        if is_public(cid):
            counters.mark_public()
        counters.rebuild(cid)
    return created


def check_all(db: Database, fix: bool) -> list[str]:
    """Every project's counters (its company's tasks and public ones) against a recomputation; the counter ids
    that disagreed, healed when ``fix`` (trackside-admin check-counters; proportional to the database)."""
    counters, wrong = ProjectCounters(db), []
    for project in db["projects"].find({}, {"company": 1}):
        for company in dict.fromkeys([project.get("company") or "", ""]):
            bad = counters.heal(company, project["_id"]) if fix else not counters.agrees(company, project["_id"])
            if bad:
                wrong.append(counter_id(company, project["_id"]))
    return wrong
