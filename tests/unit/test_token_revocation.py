"""The revocation checks the API and the file server share (trackside.shared.revocation): what refuses a token,
the snapshot's reload interval, a database that cannot be read, reloads that never hold other requests, and
the file server's checker built from configuration."""
from __future__ import annotations

import threading
import time

import jwt
import pytest
from pyhocon import ConfigFactory
from pymongo.errors import ServerSelectionTimeoutError

from trackside.shared.config import ConfigError
from trackside.shared.revocation import RevokedAccess, TokenRevocations, for_checking, revocation_claims


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Records:
    """The ``token_revocations`` collection as far as checking reads it: ``find`` only."""

    def __init__(self, docs=()):
        self.docs = list(docs)
        self.reads = 0
        self.failing = False
        self.gate: threading.Event | None = None   # set: a read waits for it

    def find(self, _filter, _projection):
        self.reads += 1
        if self.gate is not None:
            self.gate.wait(5)
        if self.failing:
            raise ServerSelectionTimeoutError("no servers")
        return list(self.docs)


class Sessions:
    def __init__(self, revoked=()):
        self.revoked = set(revoked)

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self.revoked


def checker(records: Records, clock: Clock, **options) -> RevokedAccess:
    return RevokedAccess({"token_revocations": records}, refresh_sec=2, clock=clock, **options)


def token(iat: int, access_key: str = "", session_id: str = "s1") -> str:
    claims = {"iat": iat, "exp": iat + 60, "session_id": session_id, **({"access_key": access_key} if access_key else {})}
    return jwt.encode(claims, "a signing secret these checks never look at", algorithm="HS256")


def test_claims_of_a_token():
    claims = revocation_claims(token(100, "KEY", "abc"))
    assert (claims.session_id, claims.expires, claims.access_key, claims.issued_at) == ("abc", 160, "KEY", 100)


def test_what_refuses_a_token():
    clock = Clock()
    records = Records([{"kind": "key", "value": "GONE"}, {"kind": "user", "value": "u1", "since": 500}])
    revocations = TokenRevocations(checker(records, clock), Sessions({"ended"}))
    assert revocations.refusal(token(100, session_id="ended"), "u2") == "revoked token"
    assert "access key was revoked" in revocations.refusal(token(100, "GONE"), "u2")
    assert "user disabled" in revocations.refusal(token(500), "u1")   # issued in the revoking second
    assert revocations.refusal(token(501), "u1") is None               # issued after it
    assert revocations.refusal(token(100, "KEPT"), "u2") is None
    assert TokenRevocations(checker(records, clock), None).refusal(token(1, session_id="ended"), "u2") is None


def test_the_snapshot_is_read_once_per_interval():
    clock, records = Clock(), Records()
    access = checker(records, clock)
    assert not access.refuses("u1", "", 1)
    records.docs.append({"kind": "user", "value": "u1", "since": 10})
    clock.now += 1.9
    assert not access.refuses("u1", "", 1) and records.reads == 1   # the old snapshot, within the interval
    clock.now += 0.2
    assert access.refuses("u1", "", 1) and records.reads == 2


def test_an_unreadable_database_keeps_the_previous_snapshot_and_backs_off(caplog):
    clock, records = Clock(), Records([{"kind": "key", "value": "GONE"}])
    access = checker(records, clock, retry_after_failure_sec=10)
    assert access.refuses("u", "GONE", 1)
    records.failing = True
    clock.now += 3
    assert access.refuses("u", "GONE", 1)             # still refused: the previous snapshot
    assert "cannot read token revocations" in caplog.text and records.reads == 2
    clock.now += 9
    assert access.refuses("u", "GONE", 1) and records.reads == 2   # not tried again yet
    records.failing = False
    records.docs = []
    clock.now += 1.5
    assert not access.refuses("u", "GONE", 1) and records.reads == 3


def test_without_a_backoff_a_failed_read_is_retried_after_the_interval():
    clock, records = Clock(), Records()
    access = checker(records, clock)   # the API's: retries as often as it reloads
    records.failing = True
    access.refuses("u", "", 1)
    clock.now += 2.1
    access.refuses("u", "", 1)
    assert records.reads == 2


def test_while_one_request_reloads_the_others_use_the_previous_snapshot():
    clock, records = Clock(), Records([{"kind": "key", "value": "GONE"}])
    access = checker(records, clock)
    assert access.refuses("u", "GONE", 1)
    clock.now += 3
    records.gate = threading.Event()
    reloading = threading.Thread(target=access.refuses, args=("u", "GONE", 1))
    reloading.start()
    while records.reads < 2:
        time.sleep(0.001)
    started = time.monotonic()
    assert access.refuses("u", "GONE", 1)   # answered from the previous snapshot, not held by the reload
    assert time.monotonic() - started < 0.5
    records.gate.set()
    reloading.join(5)
    assert records.reads == 2


def test_a_process_that_only_checks_cannot_record():
    with pytest.raises(RuntimeError, match="only checks"):
        checker(Records(), Clock()).revoke_user("u1")


@pytest.mark.parametrize("text, field", [
    ('hosts.mongo.auth.host: "mongodb://127.0.0.1:1/"', "hosts.mongo.auth.host"),   # names no database
    ('hosts.redis.apiserver.host: "127.0.0.1"', "hosts.mongo.auth.host"),
    ('hosts.mongo.auth.host: "mongodb://127.0.0.1:1/auth"', "hosts.redis.apiserver"),
])
def test_a_checker_names_the_store_setting_it_cannot_use(text, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        for_checking(ConfigFactory.parse_string(text))


def test_a_checker_connects_lazily():
    config = ConfigFactory.parse_string('hosts.mongo.auth.host: "mongodb://127.0.0.1:1/auth"\n'
                                        'hosts.redis.apiserver {host: "127.0.0.1", port: 1}')
    started = time.monotonic()
    revocations = for_checking(config)
    assert time.monotonic() - started < 0.5 and revocations.sessions is not None
