"""Session fixtures: the real Mongo-wire server, Valkey and the API process, started and stopped by the tests."""
from __future__ import annotations

import pytest

from support.client import ApiClient
from support.suite import ApiServer, start_api, start_mongo, start_redis


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    server = start_mongo(tmp_path_factory.mktemp("mongo"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api_server(mongo_server, redis_server, tmp_path_factory) -> ApiServer:
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api"), redis_port=redis_server.port)
    yield server
    server.process.stop()


@pytest.fixture
def api(api_server) -> ApiClient:
    """A logged-in client with admin test credentials."""
    return ApiClient(api_server.url, api_server.key, api_server.secret).login()


@pytest.fixture
def anon(api_server) -> ApiClient:
    """A client with no credentials."""
    return ApiClient(api_server.url)
