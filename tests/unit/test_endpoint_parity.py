"""Every endpoint of the reference server's schema is served at every version it lists, and ARCHITECTURE.md's
endpoint table says so (regenerate it with ``python tests/support/endpoint_parity.py``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from support.endpoint_parity import NOT_SERVED, REFERENCE, our_versions, table, unserved_versions

ARCHITECTURE = Path(__file__).resolve().parents[2] / "ARCHITECTURE.md"


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_endpoint_is_served_at_every_version(name):
    if name in NOT_SERVED:
        assert not our_versions(name), f"{name} is served: take it out of NOT_SERVED"
        return
    assert our_versions(name), f"{name} is not served"
    assert unserved_versions(name) == []


def test_architecture_table_is_current():
    assert table() in ARCHITECTURE.read_text(), (
        "ARCHITECTURE.md's endpoint table is stale: paste `python tests/support/endpoint_parity.py`'s table")
