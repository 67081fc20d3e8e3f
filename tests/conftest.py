"""Session fixtures: the real Mongo-wire server, Valkey, osmem-server (for Elasticsearch) and the API process,
started and stopped by the tests."""
from __future__ import annotations

import uuid

import pymongo
import pytest

from support.client import ApiClient
from support.suite import ApiServer, start_api, start_elastic, start_mongo, start_redis, stop_together
from support.suite import wait_stopped_in_background
from support.suite import FileServer, start_fileserver
from support.docker_fixtures import docker_engine, test_image, wheel_index  # noqa: F401  (one dockerd per session)


# The session's servers, stopped together once every test is done (one after another took seconds each): the
# API and file server processes first, then the stores they use.
_session_services: list = []
_session_stores: list = []


@pytest.fixture(scope="session", autouse=True)
def _stop_session_servers():
    """Set up first, so torn down last: the session fixtures' teardowns only hand their servers over."""
    yield
    wait_stopped_in_background()   # the modules' servers, signalled when their modules ended
    stop_together(_session_services)
    stop_together(_session_stores)


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    server = start_mongo(tmp_path_factory.mktemp("mongo"))
    yield server
    _session_stores.append(server)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    _session_stores.append(server)


@pytest.fixture(scope="session")
def backend(mongo_server):
    """Direct access to the API's ``backend`` database, to seed or inspect what no endpoint writes or shows."""
    client = pymongo.MongoClient("127.0.0.1", mongo_server.port, directConnection=True, tz_aware=True)
    yield client["backend"]
    client.close()


@pytest.fixture(scope="session")
def api_server(mongo_server, redis_server, tmp_path_factory) -> ApiServer:
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api"), redis_port=redis_server.port)
    yield server
    _session_services.append(server.process)


@pytest.fixture(scope="session")
def other_company_api_server(mongo_server, redis_server, tmp_path_factory) -> ApiServer:
    """A second API process on the same database, configured with another company id: what one company must
    not see or touch of another's (one for the session: the modules that need it only read through it)."""
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api-other-company"), redis_port=redis_server.port,
                       extra_env={"CLEARML__APISERVER__COMPANY__ID": f'"{uuid.uuid4().hex}"'})
    yield server
    _session_services.append(server.process)


@pytest.fixture(scope="session")
def elastic_server(tmp_path_factory):
    """osmem-server, the in-memory OpenSearch-API server standing in for Elasticsearch 8."""
    server = start_elastic(tmp_path_factory.mktemp("elastic"))
    yield server
    _session_stores.append(server)


@pytest.fixture(scope="session")
def api_server_elastic(mongo_server, redis_server, elastic_server, tmp_path_factory) -> ApiServer:
    """A second API process, sharing the Mongo-wire server, whose events store is Elasticsearch."""
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("api-elastic"), redis_port=redis_server.port,
                       elastic_port=elastic_server.port)
    yield server
    _session_services.append(server.process)


@pytest.fixture(params=["mongo", "elastic"])
def events_api(request) -> ApiClient:
    """A logged-in client of an API process per events backend; ``events_api.backend`` names it."""
    server = request.getfixturevalue("api_server" if request.param == "mongo" else "api_server_elastic")
    client = ApiClient(server.url, server.key, server.secret).login()
    client.backend = request.param
    return client


@pytest.fixture(scope="session")
def fileserver(api_server, mongo_server, redis_server, tmp_path_factory) -> FileServer:
    """The file server, checking tokens with the API's secret (it reads the API's configuration folder) and
    against the revocations the API records (its stores)."""
    server = start_fileserver(api_server.config_dir, tmp_path_factory.mktemp("fileserver"),
                              mongo_port=mongo_server.port, redis_port=redis_server.port)
    yield server
    _session_services.append(server.process)


@pytest.fixture
def api(api_server) -> ApiClient:
    """A logged-in client with admin test credentials."""
    return ApiClient(api_server.url, api_server.key, api_server.secret).login()


@pytest.fixture
def anon(api_server) -> ApiClient:
    """A client with no credentials."""
    return ApiClient(api_server.url)
