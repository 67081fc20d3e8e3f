"""A JSON list or object in a ``CLEARML__...`` variable is read exactly as the same JSON in a configuration
file (fixed users given as ``CLEARML__APISERVER__AUTH__FIXED_USERS__USERS``)."""
from __future__ import annotations

import json

import pytest

from trackside.shared.config import load_config
from trackside.shared.config import loader

USERS = [
    {"username": "ada", "password": 'pa"ss\\wo#rd //${x} é', "role": "admin", "name": "Ada Admin"},
    {"username": "bob", "password": "plain", "name": "Bob"},
]
FIXED = "apiserver.auth.fixed_users"


@pytest.fixture(autouse=True)
def _no_host_config(monkeypatch):
    monkeypatch.setattr(loader, "DEFAULT_EXTRA_DIRS", ("/nonexistent/trackside-tests/clearml-config",))


def _plain(users) -> list[dict]:
    return [{key: user.get(key) for key in user} for user in users]


@pytest.mark.parametrize("dump", [
    lambda v: json.dumps(v),                        # \u escapes for non-ASCII, as json.dumps writes by default
    lambda v: json.dumps(v, ensure_ascii=False),
    lambda v: json.dumps(v, indent=2),              # pretty-printed, several lines
], ids=["ascii", "utf8", "indented"])
def test_fixed_users_json_variable_equals_a_config_file(tmp_path, dump):
    folder = tmp_path / "config"
    (folder / "apiserver").mkdir(parents=True)
    (folder / "apiserver" / "auth.conf").write_text(
        "fixed_users { enabled: true, users: " + json.dumps(USERS, ensure_ascii=False) + " }", encoding="utf-8")
    from_file = load_config({"CLEARML_CONFIG_DIR": str(folder)})
    from_env = load_config({f"CLEARML__APISERVER__AUTH__FIXED_USERS__ENABLED": "true",
                            "CLEARML__APISERVER__AUTH__FIXED_USERS__USERS": dump(USERS)})
    assert _plain(from_env.get(f"{FIXED}.users")) == _plain(from_file.get(f"{FIXED}.users")) == USERS
    assert from_env.get_bool(f"{FIXED}.enabled") is from_file.get_bool(f"{FIXED}.enabled") is True
    # Entries are configuration sections, as the API reads them (entry.get("username")).
    assert from_env.get(f"{FIXED}.users")[0].get("role") == "admin"


def test_json_object_merges_into_its_section_and_keeps_dotted_keys_whole(tmp_path):
    value = {"secure": True, "a.b": {"c": 1}}
    tree = load_config({"CLEARML__APISERVER__AUTH__COOKIES": json.dumps(value)})
    cookies = tree.get_config("apiserver.auth.cookies")
    assert cookies.get("secure") is True and cookies.get("httponly") is True   # the default sibling stays
    (tmp_path / "apiserver").mkdir()
    (tmp_path / "apiserver" / "auth.conf").write_text("cookies: " + json.dumps(value))
    from_file = load_config({"CLEARML_CONFIG_DIR": str(tmp_path)}).get_config("apiserver.auth.cookies")
    assert cookies.get('"a.b".c') == from_file.get('"a.b".c') == 1


@pytest.mark.parametrize("value, expected", [
    ("[1, 2]", [1, 2]),
    ("{port: 9000}", 9000),          # HOCON, not JSON: still HOCON
    ("[a, b]", ["a", "b"]),          # HOCON unquoted strings
])
def test_values_that_are_not_json_stay_hocon(value, expected):
    tree = load_config({"CLEARML__CUSTOM__KEY": value})
    got = tree.get("custom.key")
    assert (got.get("port") if isinstance(expected, int) else list(got)) == expected
