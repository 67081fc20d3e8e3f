"""The embedded store's query plans (trackside.shared.embedded.secantus_plans) change which documents secantusdb
looks at, never the answer: each query is answered with the plans and by the server's own collection scan
(``hint: $natural``, which the plans leave alone) on the real storage engine, and the answers must be equal."""
import datetime
import random
import tempfile

import pytest
from secantus.storage import Storage

from trackside.shared.embedded import secantus_plans

DB, COLL = "backend", "tasks"
T0 = datetime.datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def storage():
    secantus_plans.install()
    with tempfile.TemporaryDirectory() as path:
        store = Storage(path)
        rng = random.Random(7)
        docs = [_doc(rng, i) for i in range(800)]
        store.insert(DB, COLL, docs)
        store.create_index(DB, COLL, "company_project_updated", {"company": 1, "project": 1, "last_update": -1})
        store.create_index(DB, COLL, "company_updated", {"company": 1, "last_update": -1})
        store.create_index(DB, COLL, "company_status", {"company": 1, "status": 1})
        store.create_index(DB, COLL, "company_name", {"company": 1, "name": 1})
        store.create_index(DB, COLL, "score", {"score": 1})
        store.create_index(DB, COLL, "tags", {"company": 1, "tags": 1})  # multikey: never used by the plans
        yield store
        store.close()


def _doc(rng: random.Random, i: int) -> dict:
    doc = {"_id": f"{i:08x}", "company": rng.choice(["c1", "c1", "c1", "c2", ""]),
           "project": rng.choice(["big"] * 6 + ["p1", "p2", "tiny"]) if i % 50 else "rare",
           "status": rng.choice(["created", "queued", "in_progress", "completed", "failed"]),
           "name": rng.choice(["alpha", "beta", "Gamma", "delta", ""]) + str(rng.randint(0, 30)),
           "tags": rng.sample(["a", "b", "c", "d"], rng.randint(0, 3)),
           "system_tags": ["archived"] if rng.random() < 0.1 else ([] if rng.random() < 0.5 else ["hidden"]),
           "score": rng.choice([1, 2, 2.5, "x", None, True, T0])}
    # Ties (few distinct times), missing fields and nulls, as real data has.
    if rng.random() < 0.9:
        doc["last_update"] = T0 + datetime.timedelta(hours=rng.randint(0, 200)) if rng.random() < 0.95 else None
    if rng.random() < 0.3:
        doc["started"] = T0 + datetime.timedelta(minutes=rng.randint(0, 50))
    return doc


def _filters(rng: random.Random) -> dict:
    company = rng.choice([{"company": "c1"}, {"company": {"$in": ["c1", ""]}}, {"company": {"$eq": "c2"}}])
    project = rng.choice([None, {"project": "big"}, {"project": "tiny"}, {"project": "rare"},
                          {"project": {"$in": ["p1", "p2", "rare"]}}, {"project": "none"}])
    extra = rng.choice([None, {"system_tags": {"$nin": ["archived"]}}, {"status": {"$in": ["failed", "queued"]}},
                        {"status": "completed"}, {"tags": {"$all": ["a", "b"]}}, {"name": {"$regex": "^al"}},
                        {"$or": [{"name": {"$regex": "a1"}}, {"status": "failed"}]}, {"score": {"$gte": 2}},
                        {"name": {"$nin": [None, ""]}}, {"last_update": {"$in": [None, ""]}},
                        {"last_update": {"$gte": T0 + datetime.timedelta(hours=150)}}])
    clauses = [c for c in (company, project, extra, {"system_tags": {"$ne": "hidden"}}) if c]
    return {"$and": clauses} if rng.random() < 0.8 else {k: v for c in clauses for k, v in c.items()}


def _answers(storage, filter_, **query):
    planned = storage.find_matching(DB, COLL, filter_, **query)
    scanned = storage.find_matching(DB, COLL, filter_, hint={"$natural": 1}, **query)
    return planned, scanned


def test_every_plan_answers_like_a_collection_scan(storage):
    rng = random.Random(11)
    sorts = [{"last_update": -1}, {"last_update": 1}, {"name": 1}, {"status": 1}, {"started": -1},
             {"score": 1}, {"last_update": -1, "name": 1}, {"project": 1, "last_update": -1}]
    for _ in range(150):
        filter_ = _filters(rng)
        sort = dict(rng.choice(sorts))
        sort["_id"] = rng.choice([1, -1])  # a total order, so the two answers are comparable item by item
        query = {"sort": sort, "limit": rng.choice([1, 5, 30, 0]), "skip": rng.choice([0, 0, 3, 40])}
        projection = rng.choice([None, {"name": 1, "last_update": 1}])
        planned, scanned = _answers(storage, filter_, projection=projection, **query)
        assert planned == scanned, (filter_, query)


def test_a_single_sort_key_keeps_every_tie_at_the_page_boundary(storage):
    filter_ = {"$and": [{"company": {"$in": ["c1", ""]}}, {"project": "big"}]}
    for direction in (1, -1):
        for limit in (1, 7, 30, 31, 64):
            planned, scanned = _answers(storage, filter_, sort={"last_update": direction}, limit=limit)
            assert [d.get("last_update") for d in planned] == [d.get("last_update") for d in scanned]


def test_plans_read_only_what_the_page_needs(storage, monkeypatch):
    """The 30-row page of a big project decodes about a page of documents, not the project."""
    fetched = []
    real_fetch = secantus_plans._fetch

    def counting_fetch(store, db, coll, rids):
        fetched.extend(rids)
        return real_fetch(store, db, coll, rids)

    monkeypatch.setattr(secantus_plans, "_fetch", counting_fetch)
    monkeypatch.setattr(secantus_plans, "NARROW", 50)  # this project (~400 documents) stands for a big one
    filter_ = {"$and": [{"company": {"$in": ["c1", ""]}}, {"project": "big"}, {"system_tags": {"$ne": "hidden"}}]}
    page = storage.find_matching(DB, COLL, filter_, sort={"last_update": -1, "_id": 1}, limit=30)
    assert len(page) == 30
    total = len(storage.find_matching(DB, COLL, filter_, hint={"$natural": 1}))
    assert len(fetched) < 200 < total

    fetched.clear()
    by_id = {"$and": [{"company": "c1"}, {"_id": {"$in": ["00000001", "00000002", "missing"]}}]}
    assert storage.find_matching(DB, COLL, by_id) == storage.find_matching(DB, COLL, by_id, hint={"$natural": 1})
    assert len(fetched) <= 3


def test_equalities_come_from_the_conjunction_only():
    filter_ = {"$and": [{"company": {"$in": ["c1", ""]}}, {"project": {"$eq": "p"}}, {"status": {"$ne": "x"}},
                        {"$or": [{"name": "a"}, {"name": "b"}]}, {"$and": [{"type": "training"}]}],
               "tags": ["a"], "when": None, "re": {"$regex": "x"}}
    assert secantus_plans.equalities(filter_) == {"company": ["c1", ""], "project": ["p"], "type": ["training"]}
