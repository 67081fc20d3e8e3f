"""Query plans that let the embedded Mongo-wire server (secantusdb) read what a query needs, not the collection.

secantusdb 0.7.0b3 serves a find by collecting every document an index lookup yields, then matching, sorting
and limiting in Python; a filter it cannot give to one index (a top-level ``$and``, which every API listing
sends, an ``$or``, a ``$in`` on the leading field) reads the whole collection. With 100,000 tasks the tasks
table's 30-row page took ~30 s. MongoDB answers the same page from an index that serves the sort and stops at
the limit; these plans do the same, inside the server process (``trackside.shared.embedded.secantusd``), in
front of the server's own ``Storage.find_matching``:

- **ids**: ``_id`` equality or ``$in`` anywhere in a conjunction: point look-ups.
- **narrow prefix**: an index whose leading fields are all pinned by equalities (``$in`` lists expand into
  several prefixes) and that holds fewer than :data:`NARROW` entries under them: read those, sort in memory.
- **widest prefix**: for a filter the server would answer by reading the collection (a top-level operator),
  the documents under the index prefix pinned by the most equalities.
- **ordered walk**: an index whose leading fields are pinned and whose next field is the sort's first field:
  walk it in the sort's direction (merging the prefixes' walks), match each document, and stop once the page
  is full and the next document no longer ties with the last one kept. Then the exact sort orders that small
  set, so ties on later sort fields come out as the server's own sort would put them.

Everything else, and anything with a hint, collation, ``min``/``max``, a range on the sort field, a
multikey, sparse or partial index, goes to the server's own path unchanged. Matching always uses the server's
own ``matches`` on the whole filter, so a plan only decides which documents are looked at, never which are
returned (``tests/unit/test_secantus_plans.py`` compares every plan with the server's own answer).
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import bson
from bson import ObjectId
from secantus import deadline as _deadline
from secantus import storage as _storage
from secantus.ordering import _sort_value, sort_docs
from secantus.projection import apply_projection_batch
from secantus.query import matches
from secantus.sortkey import COMPOUND_SEP, encode_value, encode_value_directed

NARROW = 500  # an index prefix this small is read whole and sorted in memory
MAX_PREFIXES = 64  # $in lists expanding into more index prefixes than this are left to the server
_CHUNK_FIRST, _CHUNK_MAX = 64, 2_048  # index entries read per lock hold, doubling while a walk goes on
_RANGE_OPS = ("$gt", "$gte", "$lt", "$lte")
_EQ_TYPES = (str, int, float, datetime, ObjectId)  # bool is an int; None, arrays, documents, regexes never


@dataclass(frozen=True)
class _Index:
    name: str
    fields: tuple[str, ...]
    directions: tuple[int, ...]


def install() -> None:
    """Put the plans in front of ``Storage.find_matching`` (once)."""
    if getattr(_storage.Storage.find_matching, "_trackside_plans", False):
        return
    original = _storage.Storage.find_matching

    def find_matching(self, db, coll, filter=None, *, skip=0, limit=0, sort=None, projection=None,
                      hint=None, let=None, collation=None, min_bound=None, max_bound=None):
        if hint is None and collation is None and min_bound is None and max_bound is None \
                and filter and not _special(self, db, coll):
            docs = _planned(self, db, coll, filter, sort, skip, limit, let)
            if docs is not None:
                return _finish(self, db, coll, docs, filter, sort, skip, limit, projection, let)
        return original(self, db, coll, filter, skip=skip, limit=limit, sort=sort, projection=projection,
                        hint=hint, let=let, collation=collation, min_bound=min_bound, max_bound=max_bound)

    find_matching._trackside_plans = True
    _storage.Storage.find_matching = find_matching


def _special(storage, db: str, coll: str) -> bool:
    return (storage._is_oplog_rs(db, coll) or storage._is_system_users(db, coll)
            or storage._is_system_version(db, coll) or storage._is_timeseries(db, coll))


def _planned(storage, db: str, coll: str, filter_: Mapping, sort: Mapping | None, skip: int,
             limit: int, let: dict | None) -> list[dict] | None:
    """The documents a plan looked at (a superset of the answer, in any order), or None: no plan applies."""
    pins = equalities(filter_)
    sort_keys = _sort_keys(sort)
    storage._refresh_read_snapshot()
    if "_id" in pins:
        with storage._lock:
            rids = storage._try_index_id_keys(db, coll, {"_id": {"$in": pins["_id"]}})
            return None if rids is None else _fetch(storage, db, coll, rids)
    if not pins and not sort_keys:
        return None
    indexes = _usable_indexes(storage, db, coll)
    ranged = _ranged_fields(filter_)
    narrow = _narrowest_prefix(storage, db, coll, indexes, pins, ranged)
    if narrow is not None:
        return narrow
    if limit > 0 and sort_keys and sort_keys[0][0] not in ranged:
        walk = _ordered_index(indexes, pins, sort_keys[0][0])
        if walk is not None:
            index, prefixes = walk
            return _walk(storage, db, coll, index, prefixes, len(prefixes[0]), sort_keys[0], filter_,
                         skip + limit, let)
    if any(key.startswith("$") for key in filter_):
        return _widest_prefix(storage, db, coll, indexes, pins)  # the server would read the collection
    return None


def _finish(storage, db, coll, docs, filter_, sort, skip, limit, projection, let) -> list[dict]:
    out = []
    for doc in docs:
        _deadline.check()
        if matches(doc, filter_, vars=let):
            out.append(doc)
    if sort:
        out = sort_docs(out, sort)
    if skip:
        out = out[skip:]
    if limit > 0:
        out = out[:limit]
    if projection:
        metas = storage._projection_metas(db, coll, out, projection, filter_, sort, None, None)
        out = apply_projection_batch(out, projection, filter_, metas=metas, has_sort=bool(sort))
    return out


def equalities(filter_: Mapping) -> dict[str, list]:
    """Fields a document must equal one of a few plain values on, from the top level and nested ``$and``s:
    ``{f: v}``, ``{f: {$eq: v}}``, ``{f: {$in: [...]}}`` (strings, numbers, dates, ObjectIds only)."""
    pins: dict[str, list] = {}

    def visit(clause: Mapping) -> None:
        for field, cond in clause.items():
            if field == "$and" and isinstance(cond, list):
                for part in cond:
                    if isinstance(part, Mapping):
                        visit(part)
                continue
            if field.startswith("$") or field in pins:
                continue
            values = _pinned_values(cond)
            if values is not None:
                pins[field] = values

    visit(filter_)
    return pins


def _pinned_values(cond: Any) -> list | None:
    if isinstance(cond, Mapping):
        if len(cond) != 1:
            return None
        op, arg = next(iter(cond.items()))
        if op == "$eq":
            return _pinned_values(arg)
        if op == "$in" and isinstance(arg, list) and arg and all(_plain(v) for v in arg):
            return list(dict.fromkeys(arg))
        return None
    return [cond] if _plain(cond) else None


def _plain(value: Any) -> bool:
    return isinstance(value, _EQ_TYPES) and not (isinstance(value, float) and value != value)


def _ranged_fields(filter_: Mapping) -> set[str]:
    """Fields with a range bound anywhere in the filter: the server's own compound range look-up reads just
    that range, which a walk from the start of the prefix might not, so a sort on one is left to the server."""
    names: set[str] = set()

    def visit(node: Any, field: str | None) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in _RANGE_OPS and field:
                    names.add(field)
                visit(value, field if key.startswith("$") else key)
        elif isinstance(node, list):
            for item in node:
                visit(item, field)

    visit(filter_, None)
    return names


def _sort_keys(sort: Mapping | None) -> list[tuple[str, int]]:
    keys = []
    for field, direction in (sort or {}).items():
        if field.startswith("$") or direction not in (1, -1):
            return []
        keys.append((field, int(direction)))
    return keys


def _usable_indexes(storage, db: str, coll: str) -> list[_Index]:
    """Indexes holding one entry per document in plain value order: no multikey, sparse, partial, collation,
    hashed, text or geo index (their entries skip documents or order differently)."""
    usable = []
    with storage._lock:
        listed = list(storage._iter_indexes(db, coll))
    for name, key, options in listed:
        if name == "_id_" or any(options.get(o) for o in ("multikey", "sparse", "partialFilterExpression",
                                                           "collation", "hidden")):
            continue
        directions = tuple(key.values())
        if not all(d in (1, -1) for d in directions):
            continue
        usable.append(_Index(name, tuple(key), tuple(int(d) for d in directions)))
    return usable


def _prefixes(index: _Index, pins: Mapping[str, list]) -> list[tuple] | None:
    """Value tuples for the index's leading pinned fields (their product), or None past MAX_PREFIXES."""
    lists = []
    for field in index.fields:
        if field not in pins:
            break
        lists.append(pins[field])
    size = 1
    for values in lists:
        size *= len(values)
    if size > MAX_PREFIXES:
        return None
    return list(itertools.product(*lists))


def _prefix_bytes(index: _Index, values: tuple) -> bytes:
    """The escaped key bytes every entry under ``values`` starts with (as the server's compound lookups); with
    every field of the index pinned, the whole key."""
    if not values:
        return b""
    parts = [encode_value_directed(v, d) for v, d in zip(values, index.directions)]
    key = COMPOUND_SEP.join(parts)
    return _storage._escape_kb(key if len(values) == len(index.fields) else key + COMPOUND_SEP)


def _narrowest_prefix(storage, db, coll, indexes: list[_Index], pins, ranged: set[str]) -> list[dict] | None:
    """The documents under the pinned prefix of the index with the fewest entries there, if under NARROW. An
    index with a range on a field after its pinned ones is left to the server, which reads just that range.

    Entries are counted once per set of pinned fields (indexes sharing their leading fields share the count),
    the most pinned first, and a set inside one already too big is never counted (it holds at least as many).
    """
    best: tuple[int, _Index, list[tuple]] | None = None
    counted: set[tuple[str, ...]] = set()
    too_big: list[set[str]] = []
    candidates = [(index, prefixes) for index in indexes
                  if (prefixes := _prefixes(index, pins)) and prefixes[0]
                  and not ranged.intersection(index.fields[len(prefixes[0]):])]
    for index, prefixes in sorted(candidates, key=lambda c: -len(c[1][0])):
        fields = index.fields[:len(prefixes[0])]
        if fields in counted or any(set(fields) <= big for big in too_big):
            continue
        counted.add(fields)
        limit = NARROW if best is None else best[0]
        count = 0
        for values in prefixes:
            count += sum(1 for _ in itertools.islice(
                _entries(storage, db, coll, index, values, False), limit - count))
            if count >= limit:
                break
        if count < limit:
            best = (count, index, prefixes)
        elif limit == NARROW:
            too_big.append(set(fields))
    if best is None:
        return None
    _count, index, prefixes = best
    rids = [rid for values in prefixes
            for _key, rid in _entries(storage, db, coll, index, values, False)]
    return _fetch(storage, db, coll, rids)


def _widest_prefix(storage, db, coll, indexes: list[_Index], pins) -> list[dict] | None:
    """The documents under the index prefix pinned by the most equalities (never more than the collection)."""
    best = None
    for index in indexes:
        prefixes = _prefixes(index, pins)
        if prefixes and prefixes[0] and (best is None or len(prefixes[0]) > len(best[1][0])):
            best = (index, prefixes)
    if best is None:
        return None
    index, prefixes = best
    rids = [rid for values in prefixes
            for _key, rid in _entries(storage, db, coll, index, values, False)]
    return _fetch(storage, db, coll, rids)


def _ordered_index(indexes: list[_Index], pins, sort_field: str) -> tuple[_Index, list[tuple]] | None:
    """The index whose pinned leading fields are followed by the sort field, the most pinned first."""
    best = None
    for index in indexes:
        prefixes = _prefixes(index, pins)
        if prefixes is None:
            continue
        pinned = len(prefixes[0])
        if pinned < len(index.fields) and index.fields[pinned] == sort_field:
            if best is None or pinned > len(best[1][0]):
                best = (index, prefixes)
    return best


def _walk(storage, db, coll, index: _Index, prefixes: list[tuple], pinned: int, sort_key: tuple[str, int],
          filter_: Mapping, needed: int, let: dict | None) -> list[dict]:
    """Documents in the order of the sort's first field until ``needed`` match, plus every later one that
    ties with the last of them on that field."""
    field, direction = sort_key
    backward = direction != index.directions[pinned]
    streams = [_suffixes(_entries(storage, db, coll, index, values, backward), len(_prefix_bytes(index, values)))
               for values in prefixes]
    merged = heapq.merge(*streams, key=lambda entry: entry[0], reverse=backward) if len(streams) > 1 \
        else streams[0]
    kept: list[dict] = []
    boundary: bytes | None = None
    reverse = direction == -1
    for rids in _batches(merged):
        for doc in _fetch(storage, db, coll, rids):
            _deadline.check()
            if not matches(doc, filter_, vars=let):
                continue
            tie = encode_value(_sort_value(doc, field, reverse))
            if boundary is not None and tie != boundary:
                return kept
            kept.append(doc)
            if len(kept) >= needed:
                boundary = tie
    return kept


def _suffixes(entries: Iterator[tuple[bytes, int]], start: int) -> Iterator[tuple[bytes, int]]:
    """Entries keyed by what follows their prefix, so the walks of several prefixes merge in index order."""
    for key, rid in entries:
        yield key[start:], rid


def _batches(entries: Iterator[tuple[bytes, int]]) -> Iterator[list[int]]:
    size = _CHUNK_FIRST
    while True:
        batch = [rid for _key, rid in itertools.islice(entries, size)]
        if not batch:
            return
        yield batch
        size = min(size * 2, _CHUNK_MAX)


def _entries(storage, db: str, coll: str, index: _Index, values: tuple,
             backward: bool) -> Iterator[tuple[bytes, int]]:
    """(escaped key, RecordId) of the index entries under ``prefix``, in key order or backward. Read in chunks,
    each under the server's lock and re-positioned from the last key, so a long walk never holds the lock
    and several walks can share the thread's one cursor."""
    prefix, whole = _prefix_bytes(index, values), len(values) == len(index.fields)
    after: bytes | None = None
    size = _CHUNK_FIRST
    while True:
        with storage._lock:
            chunk = _read_chunk(storage, db, coll, index.name, prefix, whole, backward, after, size)
        yield from ((key, rid) for key, rid, _packed in chunk)
        if len(chunk) < size:
            return
        after = chunk[-1][2]
        size = min(size * 2, _CHUNK_MAX)


def _read_chunk(storage, db, coll, name, prefix: bytes, whole: bool, backward: bool, after: bytes | None,
                size: int) -> list[tuple[bytes, int, bytes]]:
    import wiredtiger as wt

    cursor = storage._cursor(_storage._IDX_ENTRIES_TABLE)
    step = cursor.prev if backward else cursor.next
    if after is not None:
        cursor.set_key(db, coll, name, after)
        rc = cursor.search_near()
        if rc == wt.WT_NOTFOUND:
            return []
        # Land strictly past the last entry returned, in the walking direction.
        if (rc == 0 or (rc > 0 if backward else rc < 0)) and step() != 0:
            return []
    elif backward:
        # Just past the last entry under the prefix (or of the whole index), then one step back.
        if prefix:
            cursor.set_key(db, coll, name, _successor(prefix))
        else:
            cursor.set_key(db, coll, name + "\x01", b"")
        rc = cursor.search_near()
        if rc == wt.WT_NOTFOUND:
            return []
        if rc >= 0 and cursor.prev() != 0:
            return []
    else:
        cursor.set_key(db, coll, name, prefix)
        rc = cursor.search_near()
        if rc == wt.WT_NOTFOUND:
            return []
        if rc < 0 and cursor.next() != 0:
            return []
    out = []
    while len(out) < size:
        key = cursor.get_key()
        if (key[0], key[1], key[2]) != (db, coll, name):
            break
        packed = bytes(key[3])
        escaped, rid = _storage._unpack_entry(packed)
        if not escaped.startswith(prefix) or (whole and escaped != prefix):
            break
        if rid is not None:
            out.append((escaped, rid, packed))
        if step() != 0:
            break
    return out


def _successor(prefix: bytes) -> bytes:
    """The smallest byte string above every string that starts with ``prefix``."""
    trimmed = prefix.rstrip(b"\xff")
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _fetch(storage, db: str, coll: str, rids: list[int]) -> list[dict]:
    with storage._lock:
        cursor = storage._cursor_optional(_storage._doc_table_for(db, coll))
        if cursor is None:
            return []
        blobs = []
        for rid in dict.fromkeys(rids):
            cursor.reset()
            cursor.set_key(db, coll, rid)
            if cursor.search() == 0:
                blobs.append(_storage._unframe_doc_value(bytes(cursor.get_value()))[1])
    return [bson.decode(blob) for blob in blobs]
