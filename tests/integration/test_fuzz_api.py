"""Fuzzing every endpoint (schemathesis) from the OpenAPI document at /openapi.json: with an admin's token and
without one, no answer is a 5xx, and every answer is the JSON envelope (meta.result_code equals the HTTP
status, meta.endpoint names the endpoint, data is there, and is {} on an error), except the files that the
download endpoints send.

A few examples per endpoint here; ``make fuzz`` raises them (TRACKSIDE_FUZZ_EXAMPLES). The fuzzer gets its own
API process, databases and Valkey: it creates, edits and deletes whatever the schemas allow, and fails sign-ins
that would throttle the session server's address.
"""
from __future__ import annotations

import json
import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from support.suite import start_api, start_redis, stop_in_background
from trackside.api.dispatch import JSON_LINES
from trackside.api.openapi import DOWNLOADS, document
from trackside.api.registry import AUTH_NONE, REGISTRY

DEFAULT_EXAMPLES = 4
EXAMPLES = int(os.environ.get("TRACKSIDE_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
# The longer run (make fuzz) adds schemathesis's coverage phase: boundary, empty, null and wrong-typed values,
# missing fields and other HTTP methods, some 70 cases per endpoint (too many for make test).
COVERAGE = EXAMPLES > DEFAULT_EXAMPLES
# With a token: these end the caller's own session (the fuzzer's token would stop working for the rest of the
# run), and webhooks.test sends an HTTP request to whatever URL the webhook names.
NOT_WITH_TOKEN = {"auth.logout", "login.logout", "webhooks.test"}

schema = schemathesis.openapi.from_dict(document((2, 31)))
schema.config.phases.coverage.enabled = COVERAGE
# Without credentials every answer is the same 401 whatever the body: one generated case per endpoint.
anonymous_schema = schemathesis.openapi.from_dict(document((2, 31)))
anonymous_schema.config.phases.coverage.enabled = False
ANSWERS: list[str] = []  # the endpoint of every answer checked, for the run's figures


@schemathesis.serializer(JSON_LINES)
def _json_lines(ctx, value):
    """The batch endpoints' body: the generated array, one JSON object per line."""
    items = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(item) for item in items).encode()


@pytest.fixture(scope="module")
def fuzz_server(mongo_server, tmp_path_factory):
    redis = start_redis(tmp_path_factory.mktemp("fuzz-redis"))
    own_databases = {
        f"CLEARML__HOSTS__MONGO__{db.upper()}__HOST":
            f'"mongodb://127.0.0.1:{mongo_server.port}/fuzz_{db}?retryWrites=false"'
        for db in ("backend", "auth")
    }
    server = start_api(mongo_server.port, tmp_path_factory.mktemp("fuzz-api"), extra_env=own_databases,
                       redis_port=redis.port)
    yield server
    stop_in_background(server.process, redis)


@pytest.fixture(scope="module")
def token(fuzz_server) -> str:
    reply = requests.post(f"{fuzz_server.url}/auth.login", auth=(fuzz_server.key, fuzz_server.secret), timeout=10)
    return reply.json()["data"]["token"]


@pytest.fixture
def http():
    """A session per test function: auth.login sets a token cookie that would sign the anonymous calls in."""
    with requests.Session() as session:
        yield session


def check_answer(case, response) -> None:
    """``response`` is schemathesis's: headers with lowercase names and lists of values."""
    name = case.operation.definition.raw["operationId"]
    where = f"{case.method} {name} {case.body!r:.300}"
    content_type = response.headers.get("content-type", [""])[0]
    ANSWERS.append(name)
    assert response.status_code < 500, (where, response.text[:500])
    if case.method in ("HEAD", "OPTIONS"):
        return  # bodiless by HTTP (HEAD), or the CORS preflight's (OPTIONS)
    if name in DOWNLOADS and response.status_code == 200:
        assert content_type.startswith(DOWNLOADS[name]), (where, content_type)
        return
    assert content_type.startswith("application/json"), (where, response.status_code, content_type, response.text[:300])
    body = response.json()
    meta = body["meta"]
    assert meta["result_code"] == response.status_code, (where, meta)
    assert meta["endpoint"]["name"] == name and isinstance(meta["result_subcode"], int), (where, meta)
    assert {"id", "trx", "result_msg"} <= meta.keys() and "data" in body, (where, body)
    if response.status_code != 200:
        assert body["data"] == {}, (where, body)


# make test's short run is the same every time (a CI run must not fail by chance); make fuzz explores anew.
FUZZ_SETTINGS = dict(deadline=None, database=None, derandomize=not COVERAGE,
                     suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])


# Fields that name an entity, and what ``ids`` names in each service.
ENTITY_FIELDS = {"task": "task", "project": "project", "queue": "queue", "model": "model"}
IDS_BY_SERVICE = {"tasks": "task", "projects": "project", "queues": "queue", "models": "model"}


@pytest.fixture(scope="module")
def real_ids(fuzz_server, token) -> dict[str, str]:
    """One project, task, queue and model, so that some calls get past "not found" into the handlers."""
    def call(endpoint, **body):
        reply = requests.post(f"{fuzz_server.url}/{endpoint}", json=body, timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]["id"]
    project = call("projects.create", name="fuzzed", description="")
    return {"project": project, "task": call("tasks.create", name="fuzzed", type="training", project=project),
            "queue": call("queues.create", name="fuzzed"), "model": call("models.create", name="fuzzed", uri="x")}


def use_real_ids(case, real_ids: dict[str, str]) -> None:
    """Half the generated entity ids (those of even length) become real ones."""
    if not isinstance(case.body, dict):
        return
    service = case.operation.definition.raw["operationId"].split(".")[0]
    for key, value in case.body.items():
        entity = ENTITY_FIELDS.get(key) or (IDS_BY_SERVICE.get(service) if key == "ids" else None)
        if entity and isinstance(value, str) and len(value) % 2 == 0:
            case.body[key] = real_ids[entity]
        elif entity and isinstance(value, list) and len(value) % 2 == 1:
            case.body[key] = [real_ids[entity]]


@schema.exclude(operation_id=sorted(NOT_WITH_TOKEN)).parametrize()
@settings(max_examples=EXAMPLES, **FUZZ_SETTINGS)
def test_fuzz_with_a_token(case, fuzz_server, token, real_ids, http):
    use_real_ids(case, real_ids)
    response = case.call(base_url=fuzz_server.url, session=http, headers={"Authorization": f"Bearer {token}"},
                         timeout=30)
    check_answer(case, response)


@anonymous_schema.parametrize()
@settings(max_examples=1, **FUZZ_SETTINGS)
def test_fuzz_without_credentials(case, fuzz_server, http):
    response = case.call(base_url=fuzz_server.url, session=http, timeout=30)
    check_answer(case, response)
    name = case.operation.definition.raw["operationId"]
    if REGISTRY.versions(name)[0].auth != AUTH_NONE and case.method == "POST":
        assert response.status_code == 401, (name, response.text[:300])


def test_the_document_is_served_without_credentials(fuzz_server):
    reply = requests.get(f"{fuzz_server.url}/openapi.json", timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    served = reply.json()
    assert served["openapi"].startswith("3.1") and served["paths"].keys() == schema.raw_schema["paths"].keys()
    login = served["paths"]["/auth.login"]["post"]
    assert {"basic": []} in login["security"] and served["paths"]["/tasks.get_all"]["post"]["security"] == [
        {"bearer": []}]
    assert "multipart/form-data" in served["paths"]["/apps.upload"]["post"]["requestBody"]["content"]


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    print(f"\nfuzz: {len(ANSWERS)} answers over {len(set(ANSWERS))} endpoints")
