"""The console by position: any window of a log of any length, and a search over the whole log on the server.

Each log line gets its position in its task's log at ingestion (``seq``: 0, 1, 2... in the order the lines were
reported, which is the order a program printed them), reserved per batch from a per-task counter
(``event_log_counters``, compare-and-swap, so concurrent batches never share a number). A window
``[offset, offset + limit)`` is then one index range read on both backends, whatever the offset: no skip (the
embedded Mongo-wire server reads every skipped document; Elasticsearch refuses ``from`` past 10,000), no count
(the counter is the total).

Search reads the log in windows of ``SEARCH_WINDOW`` lines (position and message only) and matches them in Python
(the same regular expressions on every backend; Elasticsearch does not index messages). One request searches
for at most ``SEARCH_BUDGET_S`` seconds and then answers where it stopped, so the web app stays responsive on a
log of millions of lines and continues from there.

Lines stored before positions existed (no counter for the task) are read in time order with a skip: correct,
but slow for long logs.
"""
from __future__ import annotations

import re
import time
from typing import Iterator, Sequence

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from trackside.api import errors
from trackside.api.bll.event_reads import EventReads, iso_time, stream
from trackside.shared.events import ASC, DESC, LOG, EventFilter
from trackside.shared.events.summaries import LOG_COUNTERS
from trackside.shared.storage.mongo import ASCENDING, Collection, Index, ensure_indexes

MAX_LIMIT = 2000
DEFAULT_LIMIT = 200
SEARCH_WINDOW = 5000
# A search reads small windows first (a hit nearby answers fast), then larger ones.
FIRST_SEARCH_WINDOW = 500
SEARCH_BUDGET_S = 0.8
# Counting matches reads the log from its start: its own, longer budget.
COUNT_BUDGET_S = 3.0
COUNT_CAP = 1000
LINE_FIELDS = ["seq", "msg", "timestamp", "level", "worker"]

COUNTERS = Collection(LOG_COUNTERS, (Index((("company", ASCENDING), ("task", ASCENDING))),))
# Compare-and-swap tries before giving up on a counter (each miss means another batch got a range first).
RESERVE_TRIES = 100
# Batches remembered per task, so a retry gets its first try's positions (the SDK retries one batch at a time).
RECENT_BATCHES = 16


class LogNumbering:
    """Per task, how many log line positions were handed out."""

    def __init__(self, db: Database):
        self.db = db
        self.coll = db[COUNTERS.name]

    def setup(self) -> None:
        ensure_indexes(self.db, [COUNTERS])

    def reserve(self, company: str, task: str, count: int, batch: str | None = None) -> int:
        """The first of ``count`` consecutive positions, never given to another batch. A batch sent again (its
        ``batch`` key seen among the task's last RECENT_BATCHES) gets the positions its first try got, so a
        client's retry after a lost answer leaves no gap in the console."""
        key = f"{company}:{task}"
        for _ in range(RESERVE_TRIES):
            doc = self.coll.find_one({"_id": key}, {"n": 1, "recent": 1})
            if doc is None:
                try:
                    self.coll.insert_one({"_id": key, "company": company, "task": task, "n": count,
                                          "recent": [{"batch": batch, "first": 0}] if batch else []})
                    return 0
                except DuplicateKeyError:
                    continue
            seen = next((r["first"] for r in doc.get("recent") or () if batch and r.get("batch") == batch), None)
            if seen is not None:
                return seen
            current = doc.get("n") or 0
            update: dict = {"$set": {"n": current + count}}
            if batch:
                update["$push"] = {"recent": {"$each": [{"batch": batch, "first": current}],
                                              "$slice": -RECENT_BATCHES}}
            if self.coll.update_one({"_id": key, "n": current}, update).modified_count:
                return current
        raise errors.APIError("could not number log lines: too many concurrent batches for one task")

    def total(self, company: str, task: str) -> int | None:
        doc = self.coll.find_one({"_id": f"{company}:{task}"}, {"n": 1})
        return None if doc is None else int(doc.get("n") or 0)

    def delete(self, company: str, tasks: Sequence[str]) -> None:
        self.coll.delete_many({"_id": {"$in": [f"{company}:{task}" for task in tasks]}})


def number_lines(numbering: LogNumbering, events: Sequence[dict]) -> None:
    """Give each log line of a batch its position, in batch order, per task."""
    by_task: dict[tuple[str, str], list[dict]] = {}
    for event in events:
        if event["type"] == LOG:
            by_task.setdefault((event["company"], event["task"]), []).append(event)
    for (company, task), lines in by_task.items():
        first = numbering.reserve(company, task, len(lines), batch=lines[0].get("id"))
        for offset, event in enumerate(lines):
            event["seq"] = first + offset


def shown_line(event: dict, position: int) -> dict:
    line = {"line": position, "msg": event.get("msg", ""), "timestamp": event.get("timestamp")}
    if event.get("timestamp") is not None:
        line["@timestamp"] = iso_time(event["timestamp"])
    for name in ("level", "worker"):
        if event.get(name) is not None:
            line[name] = event[name]
    return line


def compile_pattern(text: str, regex: bool, case_sensitive: bool) -> re.Pattern:
    try:
        return re.compile(text if regex else re.escape(text), 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        raise errors.InvalidRegex(f"invalid regular expression: {exc}", text=text) from None


class LogLines:
    def __init__(self, reads: EventReads, numbering: LogNumbering):
        self.reads = reads
        self.store = reads.store
        self.numbering = numbering

    def _filter(self, company: str, task: str, **narrowing) -> EventFilter:
        return EventFilter(company, [task], types=[LOG], **narrowing)

    def lines(self, company: str, task: str, offset: int = 0, from_end: bool = False,
              limit: int = DEFAULT_LIMIT) -> dict:
        """``{total, offset, lines: [{line, msg, timestamp, @timestamp, level, worker}]}``"""
        self.reads.require(company, [task], fields=())
        total = self.numbering.total(company, task)
        if total is None:
            return self._legacy_lines(company, task, offset, from_end, limit)
        if from_end:
            offset = max(0, total - limit)
        events = []
        if offset < total:
            flt = self._filter(company, task, seq_min=offset, seq_max=min(total, offset + limit) - 1)
            events = self.store.search(flt, [("seq", ASC)], limit, fields=LINE_FIELDS).events
        return {"total": total, "offset": offset, "lines": [shown_line(e, e["seq"]) for e in events]}

    def search(self, company: str, task: str, text: str, regex: bool = False, case_sensitive: bool = False,
               from_offset: int | None = None, direction: str = "next", count: bool = False,
               budget_s: float = SEARCH_BUDGET_S) -> dict:
        """The first line matching ``text`` from ``from_offset`` (inclusive) towards the end ("next") or the start
        ("prev"): ``{found, offset, line, total, searched_to, done[, matches, matches_capped]}``. When the time
        budget runs out first, ``found`` is false, ``done`` is false and ``searched_to`` says where to go on."""
        self.reads.require(company, [task], fields=())
        pattern = compile_pattern(text, regex, case_sensitive)
        total = self.numbering.total(company, task)
        legacy = total is None
        if legacy:
            total = self.store.count(self._filter(company, task))
        forward = direction != "prev"
        start = (0 if forward else total - 1) if from_offset is None else from_offset
        deadline = time.monotonic() + budget_s
        answer: dict = {"found": False, "offset": None, "line": None, "total": total}
        scanned = start - 1 if forward else start + 1
        done = True
        for position, event in self._scan(company, task, start, total, forward, legacy):
            scanned = position
            if event.get("msg") and pattern.search(event["msg"]):
                answer.update(found=True, offset=position, line=shown_line(event, position))
                break
            if time.monotonic() > deadline:
                done = False
                break
        else:
            scanned = total - 1 if forward else 0
        answer["searched_to"] = scanned
        answer["done"] = answer["found"] or done
        if count:
            answer.update(self._count(company, task, pattern, total, legacy, time.monotonic() + COUNT_BUDGET_S))
        return answer

    def _scan(self, company: str, task: str, start: int, total: int, forward: bool,
              legacy: bool) -> Iterator[tuple[int, dict]]:
        """(position, line) from ``start`` in one direction, a window of lines per store read."""
        if legacy:
            yield from self._legacy_scan(company, task, start, forward)
            return
        position = max(0, start) if forward else min(total - 1, start)
        window = FIRST_SEARCH_WINDOW
        while 0 <= position < total:
            low, high = ((position, min(total - 1, position + window - 1)) if forward
                         else (max(0, position - window + 1), position))
            flt = self._filter(company, task, seq_min=low, seq_max=high)
            page = self.store.search(flt, [("seq", ASC if forward else DESC)], window,
                                     fields=["seq", "msg", "timestamp", "level", "worker"])
            window = min(SEARCH_WINDOW, window * 2)
            for event in page.events:
                yield event["seq"], event
            position = high + 1 if forward else low - 1

    def _count(self, company: str, task: str, pattern: re.Pattern, total: int, legacy: bool,
               deadline: float) -> dict:
        matches, complete = 0, True
        for _, event in self._scan(company, task, 0, total, True, legacy):
            if event.get("msg") and pattern.search(event["msg"]):
                matches += 1
                if matches >= COUNT_CAP:
                    complete = False
                    break
            if time.monotonic() > deadline:
                complete = False
                break
        return {"matches": matches, "matches_capped": not complete}

    # -- lines stored before positions existed -----------------------------------------------------------------
    def _legacy_stream(self, company: str, task: str, descending: bool = False) -> Iterator[dict]:
        order = DESC if descending else ASC
        return stream(self.store, self._filter(company, task), [("timestamp", order)], fields=LINE_FIELDS,
                      page_size=SEARCH_WINDOW)

    def _legacy_lines(self, company: str, task: str, offset: int, from_end: bool, limit: int) -> dict:
        total = self.store.count(self._filter(company, task))
        if from_end:
            offset = max(0, total - limit)
        events = []
        for position, event in enumerate(self._legacy_stream(company, task)):
            if position >= offset + limit:
                break
            if position >= offset:
                events.append(shown_line(event, position))
        return {"total": total, "offset": offset, "lines": events}

    def _legacy_scan(self, company: str, task: str, start: int, forward: bool) -> Iterator[tuple[int, dict]]:
        total = self.store.count(self._filter(company, task))
        for n, event in enumerate(self._legacy_stream(company, task, descending=not forward)):
            position = n if forward else total - 1 - n
            if (forward and position >= start) or (not forward and position <= start):
                yield position, event
