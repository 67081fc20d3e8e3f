"""The web app's proof that it forwarded a sign-in (shared/proxy_proof.py): both sides derive the same key from
the token secret, a proof holds only for its own X-Forwarded-For value, key and moment, malformed proofs are
refused, the web app's API client signs exactly what it forwards, and a proven request is read as coming from
a trusted proxy (auth/addresses.py)."""
from __future__ import annotations

import json
import time

import pytest
from pyhocon import ConfigFactory

from trackside.api.auth.addresses import proxied_client_address, trusted_networks
from trackside.shared import proxy_proof
from trackside.webapp.api_client import ApiClient
from trackside.webapp.settings import read_settings

NOW = 1_800_000_000.0
TOKEN_SECRET = "a-token-secret-both-sides-hold"
CONFIG = ConfigFactory.from_dict({"secure": {"auth": {"token_secret": TOKEN_SECRET}}})
KEY = proxy_proof.proof_key(CONFIG)
FORWARDED = "198.51.100.7, 127.0.0.1"


def test_the_web_app_and_the_api_derive_one_key_which_is_not_the_token_secret():
    assert read_settings(CONFIG).proxy_proof_key == KEY and len(KEY) == 32
    assert TOKEN_SECRET.encode() not in KEY
    other = proxy_proof.proof_key(ConfigFactory.from_dict({"secure": {"auth": {"token_secret": "another"}}}))
    assert other != KEY


def test_without_a_token_secret_there_is_no_key_and_nothing_verifies():
    empty = ConfigFactory.from_dict({})
    assert proxy_proof.proof_key(empty) is None and read_settings(empty).proxy_proof_key is None
    assert not proxy_proof.verify(None, FORWARDED, proxy_proof.sign(KEY, FORWARDED, NOW), NOW)


def test_a_proof_holds_for_its_forwarded_for_within_the_allowed_skew():
    proof = proxy_proof.sign(KEY, FORWARDED, NOW)
    assert TOKEN_SECRET not in proof
    for now in (NOW, NOW + proxy_proof.MAX_SKEW_SEC, NOW - proxy_proof.MAX_SKEW_SEC):
        assert proxy_proof.verify(KEY, FORWARDED, proof, now)


@pytest.mark.parametrize("key, forwarded, now", [
    (proxy_proof.proof_key(ConfigFactory.from_dict({"secure": {"auth": {"token_secret": "guess"}}})), FORWARDED,
     NOW),                                                             # another secret
    (KEY, "203.0.113.9, 127.0.0.1", NOW),                              # replayed onto another address
    (KEY, "203.0.113.9, " + FORWARDED, NOW),                           # a hop added in front
    (KEY, FORWARDED, NOW + proxy_proof.MAX_SKEW_SEC + 1),              # stale
    (KEY, FORWARDED, NOW - proxy_proof.MAX_SKEW_SEC - 1),              # from the future
])
def test_a_proof_does_not_hold_for_another_key_value_or_moment(key, forwarded, now):
    assert not proxy_proof.verify(key, forwarded, proxy_proof.sign(KEY, FORWARDED, NOW), now)


@pytest.mark.parametrize("proof", [
    "", "garbage", f"{int(NOW)}", f"{int(NOW)}.", f"{int(NOW)}.{'0' * 64}", f"x{int(NOW)}.{'a' * 64}",
    f"{'9' * 40}.{'a' * 64}", f"-{int(NOW)}.{'a' * 64}", f"{int(NOW)}.ÿé",
])
def test_malformed_or_forged_proofs_are_refused(proof):
    assert not proxy_proof.verify(KEY, FORWARDED, proof, NOW)


def test_an_empty_forwarded_for_is_never_vouched_for():
    assert not proxy_proof.verify(KEY, "", proxy_proof.sign(KEY, "", NOW), NOW)


class _Recorder:
    """Stands in for the pooled session: keeps each request's headers, answers a sign-in envelope."""

    def __init__(self):
        self.headers: list[dict] = []

    def post(self, url, data=None, headers=None, **_):
        self.headers.append(dict(headers or {}))
        return _Answer()


class _Answer:
    status_code = 200

    @staticmethod
    def json():
        return {"meta": {"result_code": 200}, "data": {"token": "t"}}


def _client(key: bytes | None) -> tuple[ApiClient, _Recorder]:
    client, recorder = ApiClient("http://api.invalid", 5, 1, key), _Recorder()
    client.http = recorder
    return client, recorder


def test_the_web_app_signs_exactly_the_forwarded_for_it_sends_and_only_on_sign_in():
    client, sent = _client(KEY)
    client.call("auth.login", basic=("ada", "pw"), forwarded_for=FORWARDED)
    client.call("users.get_current_user", token="t")
    client.forward("tasks.get_all", json.dumps({}).encode(), "t")
    login, other, proxied = sent.headers
    assert login["X-Forwarded-For"] == FORWARDED
    assert proxy_proof.verify(KEY, login["X-Forwarded-For"], login[proxy_proof.HEADER], time.time())
    assert proxy_proof.HEADER not in other and proxy_proof.HEADER not in proxied


def test_without_a_key_the_web_app_forwards_the_address_unproven():
    client, sent = _client(None)
    client.call("auth.login", basic=("ada", "pw"), forwarded_for=FORWARDED)
    assert sent.headers[0]["X-Forwarded-For"] == FORWARDED and proxy_proof.HEADER not in sent.headers[0]


TRUSTED = trusted_networks(["192.0.2.1"])  # loopback not trusted: only a proof makes the web app a proxy


@pytest.mark.parametrize("forwarded, expected", [
    ("198.51.100.7, 127.0.0.1", "127.0.0.1"),        # the web app's own hop: its peer, the browser's address
    ("198.51.100.7, 192.0.2.1", "198.51.100.7"),     # behind a trusted reverse proxy: the address it names
    ("6.6.6.6, 198.51.100.7, 192.0.2.1", "198.51.100.7"),  # a forged entry on the left is never used
])
def test_a_proven_request_is_read_as_coming_from_a_trusted_proxy(forwarded, expected):
    assert proxied_client_address("10.244.3.17", forwarded, "", TRUSTED) == expected
