"""The Elasticsearch client and events store built from configuration, without a server (clients connect lazily)."""
from __future__ import annotations

import warnings

import mongomock_ng
import pytest
from elastic_transport import HttpHeaders, Urllib3HttpNode

from trackside.shared.config import load_config
from trackside.shared.config import loader
from trackside.shared.embedded.servers import elastic_env
from trackside.shared.events import LOG, PLOT, SCALAR
from trackside.shared.events.elastic import ElasticEventStore, mapping
from trackside.shared.events.factory import store_from_config
from trackside.shared.events.mongo import MongoEventStore
from trackside.shared.storage.elastic import PlainJsonNode, connect


@pytest.fixture(autouse=True)
def _no_host_config(monkeypatch):
    monkeypatch.setattr(loader, "DEFAULT_EXTRA_DIRS", ("/nonexistent/trackside-tests/clearml-config",))


def nodes(client) -> list:
    return list(client.transport.node_pool.all())


def test_the_default_configuration_keeps_the_mongo_store():
    store = store_from_config(load_config(environ={}), mongomock_ng.MongoClient().db)
    assert isinstance(store, MongoEventStore)


def test_elastic_store_from_configuration_targets_hosts_elastic_events():
    config = load_config(environ={"CLEARML__SERVICES__EVENTS__STORE": '"elastic"',
                                  "CLEARML__SERVICES__EVENTS__ELASTIC__REFRESH": "true",
                                  "CLEARML_ELASTIC_SERVICE_HOST": "10.1.2.3", "CLEARML_ELASTIC_SERVICE_PORT": "9201"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ClearML's "timeout" arg is renamed, not passed on deprecated
        store = store_from_config(config, mongo_db=None)
    assert isinstance(store, ElasticEventStore) and store.refresh == "true"
    [node] = nodes(store.client)
    assert node.base_url == "http://10.1.2.3:9201"
    assert type(node) is Urllib3HttpNode  # Elasticsearch gets its versioned media type


def test_plain_json_is_an_explicit_option_the_test_servers_set():
    config = load_config(environ={"CLEARML__SERVICES__EVENTS__STORE": '"elastic"', **elastic_env(9333)})
    [node] = nodes(store_from_config(config, mongo_db=None).client)
    assert type(node) is PlainJsonNode and node.base_url == "http://127.0.0.1:9333"


def test_hosts_as_urls_and_client_args_pass_through():
    client = connect({"hosts": ["https://es.example:9243"], "args": {"max_retries": 1}})
    assert [n.base_url for n in nodes(client)] == ["https://es.example:9243"]


def test_plain_json_node_sends_unversioned_media_types(monkeypatch):
    sent = {}

    def capture(self, method, target, body=None, headers=None, **options):
        sent.update(headers)

    monkeypatch.setattr(Urllib3HttpNode, "perform_request", capture)
    [node] = nodes(connect({"hosts": [{"host": "127.0.0.1", "port": 1}], "plain_json": True}))
    node.perform_request("POST", "/_bulk", b"", headers=HttpHeaders({
        "accept": "application/vnd.elasticsearch+json; compatible-with=8",
        "content-type": "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        "x-opaque-id": "kept",
    }))
    assert sent["accept"] == "application/json"
    assert sent["content-type"] == "application/x-ndjson"
    assert sent["x-opaque-id"] == "kept"


def test_unknown_refresh_mode_is_refused():
    with pytest.raises(ValueError, match="refresh 'sometimes'"):
        ElasticEventStore(connect({"hosts": [{}]}), refresh="sometimes")


def test_index_names_and_mappings():
    store = ElasticEventStore(connect({"hosts": [{}]}))
    assert store.index_name(SCALAR, "ABC123") == "events-training_stats_scalar-abc123"
    scalar = mapping(SCALAR).to_dict()
    assert scalar["dynamic"] == "false"
    props = scalar["properties"]
    assert {name: props[name]["type"] for name in ("id", "task", "metric", "variant", "worker", "iter",
                                                   "timestamp", "time", "value")} == {
        "id": "keyword", "task": "keyword", "metric": "keyword", "variant": "keyword", "worker": "keyword",
        "iter": "long", "timestamp": "long", "time": "date", "value": "float"}
    assert mapping(LOG).to_dict()["properties"]["msg"] == {"type": "text", "index": False}
    assert mapping(PLOT).to_dict()["properties"]["plot_str"] == {"type": "text", "index": False}
