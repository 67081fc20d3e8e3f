"""Dispatch's pure parts: the gating precedence, settings, names, the ACL file, the metrics average, and that
an agent can import the subscriber without the server side installed."""
from __future__ import annotations

import subprocess
import sys

import pytest
from pyhocon import ConfigFactory

from trackside.api.bll.queue_claims import eligible
from trackside.api.bll.queue_metrics import _averaged
from trackside.shared.dispatch import acl
from trackside.shared.dispatch.keys import parse_stream_key, stream_key
from trackside.shared.dispatch.settings import DispatchSettings


@pytest.mark.parametrize("tags, force, schedule, expected", [
    ([], None, True, True),
    ([], None, False, False),
    ([], "on", False, True),
    ([], "off", True, False),
    ([], "sometimes", False, False),  # an unknown value is ignored, as the agent ignores it
    (["force_workers:on"], "off", False, True),  # the queue tag beats the property and the schedule
    (["force_workers:off"], "on", True, False),
    (["force_workers:off", "force_workers:on"], None, True, False),  # off wins on one level
    (["gpu"], None, True, True),
])
def test_gating_precedence(tags, force, schedule, expected):
    assert eligible(tags, force, schedule) is expected


def test_settings_from_config_and_defaults():
    tree = ConfigFactory.parse_string("services.queues.dispatch { lease_sec: 2, block_ms: 100 }")
    settings = DispatchSettings.from_config(tree)
    assert (settings.lease_sec, settings.block_ms, settings.reconcile_interval_sec) == (2.0, 100, 5.0)
    assert DispatchSettings.from_config(ConfigFactory.parse_string("a: 1")) == DispatchSettings()
    assert DispatchSettings.from_config({"consumer_timeout_sec": "7"}).consumer_timeout_sec == 7.0


def test_stream_names_round_trip():
    company, queue = "a" * 32, "b" * 32
    assert stream_key(company, queue) == f"trackside:dispatch:{company}:{queue}"
    assert parse_stream_key(stream_key(company, queue)) == (company, queue)


def test_acl_file_turns_the_default_user_off_and_holds_no_password():
    server, agent = acl.server_user("s3cret-server"), acl.agent_user("s3cret-agent")
    text = acl.acl_file_text([server, agent])
    assert text.splitlines()[0].startswith("user default off")
    assert "s3cret" not in text
    agent_line = next(line for line in text.splitlines() if line.startswith(f"user {acl.AGENT_USER} "))
    assert "~trackside:dispatch:*" in agent_line and "-@all" in agent_line and "+xadd" not in agent_line
    assert acl.is_loopback("127.0.0.1") and acl.is_loopback("localhost") and not acl.is_loopback("redis.internal")


def test_metrics_average_carries_each_queue_last_value():
    buckets = [(0, {"a": (10.0, 1)}), (5000, {"b": (2.0, 3)}), (10000, {"a": (0.0, 0)})]
    assert _averaged(buckets, chart_start=5000) == [(5000, (4.0, 4)), (10000, (2.0, 3))]


def test_the_subscriber_imports_without_the_server_side():
    blocked = "import sys; sys.modules['pymongo'] = None; sys.modules['flask'] = None\n"
    code = blocked + "import trackside.shared.dispatch.subscriber, trackside.shared.dispatch.client; print('ok')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
