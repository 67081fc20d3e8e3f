"""The events store contract: every backend runs the same tests against a real server.

To add a backend: write a module-scoped fixture that yields a ready :class:`EventStore` on its real server
(started by a session fixture, listening on 127.0.0.1), and name it in :data:`STORE_FIXTURES`. Tests get a fresh
``company`` id each, so they never see each other's events even though a store is shared by a module.
"""
from __future__ import annotations

import uuid

import pymongo
import pytest

from trackside.shared.events import EventStore, open_store
from trackside.shared.storage.elastic import connect

# backend name -> the fixture building its store
STORE_FIXTURES = {
    "mongo": "mongo_store",
    "elastic": "elastic_store",
}


@pytest.fixture(scope="module", params=sorted(STORE_FIXTURES))
def store(request) -> EventStore:
    return request.getfixturevalue(STORE_FIXTURES[request.param])


@pytest.fixture(scope="module")
def mongo_store(mongo_server) -> EventStore:
    client = pymongo.MongoClient("127.0.0.1", mongo_server.port, directConnection=True, tz_aware=True,
                                 retryWrites=False)
    db = client[f"contract_{uuid.uuid4().hex[:12]}"]
    store = open_store("mongo", db=db)
    store.setup()
    yield store
    client.drop_database(db.name)
    client.close()


@pytest.fixture(scope="module")
def elastic_store(elastic_server) -> EventStore:
    client = connect({"hosts": [{"host": "127.0.0.1", "port": elastic_server.port}], "plain_json": True})
    prefix = f"contract_{uuid.uuid4().hex[:12]}"  # this module's own indices and templates, removed after
    store = open_store("elastic", client=client, index_prefix=prefix)
    store.setup()
    yield store
    client.indices.delete(index=f"{prefix}-*", allow_no_indices=True, ignore_unavailable=True)
    client.indices.delete_index_template(name=f"{prefix}-*")
    client.close()


@pytest.fixture
def company() -> str:
    return uuid.uuid4().hex
