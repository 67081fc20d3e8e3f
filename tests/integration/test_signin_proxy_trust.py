"""The web app is believed by proof, not by address: with an API that trusts no loopback proxy (as in compose or
Kubernetes, where the web app's address is neither loopback nor fixed), failed web sign-ins are still charged
to each browser's address, not to the web app's, so one guesser cannot lock web sign-in for everybody; a
direct caller cannot name another address, with or without a forged, stale or replayed proof.

One stack of this module's own (API, file server, web app; real processes). Browsers and direct callers
connect from loopback addresses of their own (127.x.y.z), so the session's shared Redis counters of
127.0.0.1 are not touched by this module's failures.
"""
from __future__ import annotations

import json
import random
import time

import pytest
import requests
from requests.adapters import HTTPAdapter

from support.names import unique
from support.webapp import sign_in, start_webapp_stack
from trackside.shared import proxy_proof
from trackside.shared.config import load_config

FAILURES = 3  # per key and address, this module's API
API_ENV = {
    # Loopback is not trusted: the web app (on 127.0.0.1) is believed only for its proof.
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__TRUSTED_PROXIES": json.dumps(["192.0.2.1"]),
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__FAILURES_PER_KEY_AND_ADDRESS": str(FAILURES),
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__FAILURES_PER_ADDRESS": "100",
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__FAILURES_PER_KEY": "100",
    "CLEARML__APISERVER__AUTH__LOGIN_THROTTLE__MAX_LOCK_SEC": "4",
}


class _FromAddress(HTTPAdapter):
    """Connects from a chosen local address (any 127.x.y.z works on Linux without configuration)."""

    def __init__(self, source: str):
        self._source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    http.mount("http://", _FromAddress(address))
    return http


def new_loopback() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@pytest.fixture(scope="module")
def stack(mongo_server, redis_server, tmp_path_factory):
    started = start_webapp_stack(mongo_server.port, redis_server.port, tmp_path_factory.mktemp("proxy-trust"),
                                 extra_api_env=API_ENV)
    yield started
    started.stop_in_background()


@pytest.fixture(scope="module")
def proof_key(stack) -> bytes:
    """What the web app and the API derive from the secure.conf they share."""
    return proxy_proof.proof_key(load_config({"CLEARML_CONFIG_DIR": str(stack.api.config_dir)}))


def api_login(http: requests.Session, stack, key: str, secret: str, headers: dict) -> int:
    return http.post(f"{stack.api_url}/auth.login", auth=(key, secret), headers=headers, timeout=30).status_code


def test_web_sign_in_failures_are_charged_to_each_browser_not_to_the_untrusted_web_app(stack):
    guesser, someone = client_at(new_loopback()), client_at(new_loopback())
    for _ in range(FAILURES):
        assert sign_in(guesser, stack.url, stack.admin_user, "guess").status_code == 401
    assert sign_in(guesser, stack.url, stack.admin_user, "guess").status_code == 429
    # Another browser, same user: not locked (without the proof both would be the web app's 127.0.0.1).
    assert sign_in(someone, stack.url, stack.admin_user, "guess").status_code == 401
    assert sign_in(someone, stack.url, stack.admin_user, stack.admin_password).status_code == 303
    # Nor is the web app's own address: a caller there signs in with the same key at once.
    assert api_login(client_at("127.0.0.1"), stack, stack.admin_user, stack.admin_password, {}) == 200


def test_a_valid_proof_is_believed_from_any_caller(stack, proof_key):
    caller, key = client_at(new_loopback()), unique("nobody")
    for _ in range(FAILURES + 1):  # a new address each time: never locked
        forwarded = new_loopback()
        headers = {"X-Forwarded-For": forwarded, proxy_proof.HEADER: proxy_proof.sign(proof_key, forwarded,
                                                                                      time.time())}
        assert api_login(caller, stack, key, "guess", headers) == 401


def _forged(proof_key: bytes, forwarded: str) -> dict:
    stamp = int(time.time())
    return {"X-Forwarded-For": forwarded, proxy_proof.HEADER: f"{stamp}.{'0' * 64}"}


def _replayed(proof_key: bytes, forwarded: str) -> dict:
    return {"X-Forwarded-For": forwarded, proxy_proof.HEADER: proxy_proof.sign(proof_key, "198.51.100.1",
                                                                               time.time())}


def _stale(proof_key: bytes, forwarded: str) -> dict:
    then = time.time() - proxy_proof.MAX_SKEW_SEC - 5
    return {"X-Forwarded-For": forwarded, proxy_proof.HEADER: proxy_proof.sign(proof_key, forwarded, then)}


def _unproven(proof_key: bytes, forwarded: str) -> dict:
    return {"X-Forwarded-For": forwarded, "X-Real-Ip": forwarded}


@pytest.mark.parametrize("headers_for", [_unproven, _forged, _replayed, _stale])
def test_a_direct_caller_cannot_name_another_address(stack, proof_key, headers_for):
    caller, key = client_at(new_loopback()), unique("nobody")
    for _ in range(FAILURES):  # every attempt names a new address, but all are charged to the caller's own
        assert api_login(caller, stack, key, "guess", headers_for(proof_key, new_loopback())) == 401
    assert api_login(caller, stack, key, "guess", headers_for(proof_key, new_loopback())) == 429
