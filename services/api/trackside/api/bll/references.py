"""get_all_ex joins: an ``only_fields`` entry such as ``project.name``, ``user.name`` or ``execution.queue.name``
turns the stored id at that path into ``{id, name}``, as the reference's ``get_many_with_join`` does.

    join = references.plan(params.get("only_fields"), TASK_REFERENCES)
    tasks = tasks_bll.get_all(company, {**params, "only_fields": join.only_fields})
    join.apply(company, tasks)
"""
from __future__ import annotations

from typing import Mapping

from pymongo.database import Database

from trackside.api.bll.common import company_filter

# Where each kind of reference points.
_COLLECTIONS = {"project": "projects", "task": "tasks", "model": "models", "queue": "queues"}
# Users live in the auth database: only these fields of theirs may be joined, never credentials.
USER_FIELDS = frozenset({"name", "given_name", "family_name", "avatar"})

# The reference fields of each entity (a path in the document -> the kind it points to).
TASK_REFERENCES = {"project": "project", "parent": "task", "user": "user", "execution.queue": "queue"}
MODEL_REFERENCES = {"project": "project", "task": "task", "parent": "model", "user": "user"}


class References:
    def __init__(self, backend: Database, auth_db: Database):
        self._backend = backend
        self._users = auth_db["users"]

    def plan(self, only_fields: list[str] | None, fields: Mapping[str, str]) -> "Join":
        """What to read for ``only_fields`` and which references to resolve afterwards."""
        wanted: dict[str, list[str]] = {}
        kept = []
        for path in only_fields or []:
            ref = next((r for r in fields if path.startswith(r + ".")), None)
            if ref is None:
                kept.append(path)
            else:
                wanted.setdefault(ref, []).append(path[len(ref) + 1:])
        read = (kept + [r for r in wanted if r not in kept]) if only_fields else only_fields
        return Join(self, read, {ref: (fields[ref], subs) for ref, subs in wanted.items()})

    def _find(self, company: str, kind: str, ids: list[str], sub_fields: list[str]) -> dict[str, dict]:
        if kind == "user":
            sub_fields = [f for f in sub_fields if f in USER_FIELDS]
            coll, scope = self._users, {"company": company}
        else:
            # Public projects, tasks and models show their names too, as in the reference.
            coll, scope = self._backend[_COLLECTIONS[kind]], company_filter(company, allow_public=True)
        docs = coll.find({"_id": {"$in": ids}, **scope}, dict.fromkeys(sub_fields or ["_id"], 1))
        return {doc["_id"]: {f: doc.get(f) for f in sub_fields} for doc in docs}


class Join:
    def __init__(self, references: References, only_fields: list[str] | None, joins: dict):
        self._references = references
        self.only_fields = only_fields
        self._joins = joins

    def apply(self, company: str, docs: list[dict]) -> list[dict]:
        for path, (kind, sub_fields) in self._joins.items():
            holders = [(holder, key) for holder, key in map(lambda d: _holder(d, path), docs) if holder is not None]
            ids = list({holder[key] for holder, key in holders if isinstance(holder.get(key), str)})
            found = self._references._find(company, kind, ids, sub_fields) if ids else {}
            for holder, key in holders:
                ref = holder.get(key)
                if isinstance(ref, str):
                    holder[key] = {"id": ref, **found.get(ref, dict.fromkeys(sub_fields))}
        return docs


def _holder(doc: dict, path: str) -> tuple[dict | None, str]:
    """The sub-document holding the last part of ``path``, and that part's name."""
    *parents, key = path.split(".")
    for part in parents:
        doc = doc.get(part) if isinstance(doc, dict) else None
    return (doc if isinstance(doc, dict) else None), key
