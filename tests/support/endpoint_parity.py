"""Our endpoints against the reference server's: every endpoint and version its schema lists
(``reference_endpoints.json``, read off clearml-server's ``apiserver/schema/services/*.conf``).

``python tests/support/endpoint_parity.py`` prints the table kept in ARCHITECTURE.md; the unit test
``tests/unit/test_endpoint_parity.py`` fails when a reference endpoint or version is not served (and not
listed in NOT_SERVED with its reason) or when the table in ARCHITECTURE.md is out of date.
"""
from __future__ import annotations

import json
from pathlib import Path

import trackside.api.endpoints  # noqa: F401  (registers every endpoint)
from trackside.api.registry import REGISTRY, format_version, parse_version

REFERENCE = json.loads((Path(__file__).parent / "reference_endpoints.json").read_text())

# Reference endpoints we deliberately do not serve, with the reason (shown in the table).
NOT_SERVED: dict[str, str] = {}


def our_versions(name: str) -> list[str]:
    """The first version of each of our implementations of ``name``."""
    return [format_version(e.min_version) for e in REGISTRY._by_name.get(name, [])]


def unserved_versions(name: str) -> list[str]:
    """Reference versions of ``name`` that no implementation of ours answers."""
    return [v for v in REFERENCE[name] if REGISTRY.resolve(name, parse_version(v)) is None]


def table() -> str:
    rows = ["| endpoint | reference versions | ours from | note |", "|---|---|---|---|"]
    for name in sorted(REFERENCE):
        ours = our_versions(name)
        if name in NOT_SERVED:
            note = f"not served: {NOT_SERVED[name]}"
        elif not ours:
            note = "**missing**"
        else:
            missing = unserved_versions(name)
            note = f"**versions missing: {', '.join(missing)}**" if missing else ""
        rows.append(f"| `{name}` | {', '.join(REFERENCE[name])} | {', '.join(ours) or '–'} | {note} |")
    extra = sorted(set(REGISTRY.names()) - set(REFERENCE))
    rows.append(f"| ours only | | | {', '.join(f'`{n}`' for n in extra)} |")
    return "\n".join(rows)


def summary() -> dict[str, tuple[int, int]]:
    """Per service: (served reference endpoints, reference endpoints)."""
    counts: dict[str, list[int]] = {}
    for name in REFERENCE:
        service = name.split(".")[0]
        entry = counts.setdefault(service, [0, 0])
        entry[1] += 1
        entry[0] += bool(our_versions(name)) and not unserved_versions(name)
    return {service: (served, total) for service, (served, total) in sorted(counts.items())}


if __name__ == "__main__":
    print(table())
    served = summary()
    print("\n" + ", ".join(f"{s} {a}/{b}" for s, (a, b) in served.items()))
    print(f"total {sum(a for a, _ in served.values())}/{sum(b for _, b in served.values())}")
