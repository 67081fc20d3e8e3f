"""The layout's promises: namespaced imports, and an agent that installs without server dependencies."""
import importlib.util
import re
from importlib.metadata import packages_distributions, requires

import pytest

SERVER_PACKAGES = {"flask", "gunicorn", "pymongo", "elasticsearch", "elasticsearch-dsl", "bcrypt", "marshmallow"}


def _closure(dist: str, extras: frozenset = frozenset()) -> set[str]:
    """Names of every distribution `dist` (with `extras`) pulls in, following local trackside packages."""
    names = set()
    for req in requires(dist) or []:
        name_part, _, marker = req.partition(";")
        extra = re.search(r'extra\s*==\s*"([^"]+)"', marker)
        if extra and extra.group(1) not in extras:
            continue
        match = re.match(r"\s*([A-Za-z0-9_.-]+)(\[([^\]]+)\])?", name_part)
        name = match.group(1).lower()
        names.add(name)
        if name.startswith("trackside-"):
            sub_extras = frozenset(e.strip() for e in (match.group(3) or "").split(",") if e.strip())
            names |= _closure(name, sub_extras)
    return names


def test_agent_installs_without_server_dependencies():
    pulled = _closure("trackside-agent")
    assert "trackside-shared" in pulled
    assert not pulled & SERVER_PACKAGES, pulled & SERVER_PACKAGES


def test_api_depends_on_the_shared_library():
    assert {"trackside-shared", "flask", "pymongo", "gunicorn"} <= _closure("trackside-api")


@pytest.mark.parametrize("dist", ["trackside-api", "trackside-fileserver", "trackside-webhooks",
                                  "trackside-watchdog", "trackside-agent", "trackside-shared"])
def test_direct_dependencies_are_pinned(dist):
    for req in requires(dist) or []:
        name = req.split(";")[0].strip()
        assert name.startswith("trackside-") or "==" in name, f"{dist}: unpinned {name}"


@pytest.mark.parametrize("module", ["trackside.api", "trackside.shared", "trackside.agent", "trackside.fileserver",
                                    "trackside.webhooks", "trackside.watchdog"])
def test_import_names_are_namespaced(module):
    assert importlib.util.find_spec(module) is not None


def test_our_distributions_install_only_the_trackside_namespace():
    top_level = {name for name, dists in packages_distributions().items()
                 if any(d.startswith("trackside-") for d in dists)}
    assert top_level == {"trackside"}
