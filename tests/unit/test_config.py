"""The configuration loader behaves as ClearML server documents it.

Pure unit tests: ``load_config(environ=..., default_dir=...)`` over temporary folders, no servers.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyhocon import ConfigTree

from trackside.shared.config import ConfigError, load_config
from trackside.shared.config import loader

NO_EXTRA_DIR = "/nonexistent/trackside-tests/clearml-config"


@pytest.fixture(autouse=True)
def _no_host_config(monkeypatch):
    """Never let a real /opt/clearml/config on the test machine leak into these tests."""
    monkeypatch.setattr(loader, "DEFAULT_EXTRA_DIRS", (NO_EXTRA_DIR,))


def write(folder: Path, relative: str, text: str) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def config_dir(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for relative, text in files.items():
        write(folder, relative, text)
    return folder


def load(**environ: str) -> ConfigTree:
    """Load over the shipped default tree."""
    return load_config(environ=environ)


@pytest.fixture
def tiny_defaults(tmp_path) -> Path:
    """A minimal default tree, for tests about errors where the shipped defaults only cost parse time."""
    return config_dir(tmp_path, "tiny-defaults", {"apiserver.conf": "listen { port: 8008 }"})


# -- the default tree ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, expected",
    [
        ("apiserver.listen.port", 8008),
        ("hosts.mongo.backend.host", "mongodb://127.0.0.1:27017/backend"),
        ("hosts.mongo.auth.host", "mongodb://127.0.0.1:27017/auth"),
        ("services.tasks.multi_task_histogram_limit", 100),
        ("services.tasks.non_responsive_tasks_watchdog.threshold_sec", 7200),
        ("logging.version", 1),
        ("secure.credentials.apiserver.role", "system"),
        ("secure.auth.token_secret", ""),
    ],
)
def test_default_tree(key, expected):
    assert load().get(key) == expected


def test_default_tree_logging_is_a_dict_config_schema():
    logging_conf = load().get_config("logging").as_plain_ordered_dict()
    assert logging_conf["version"] == 1
    assert logging_conf["root"]["handlers"] == ["console"]
    assert logging_conf["handlers"]["console"]["formatter"] in logging_conf["formatters"]


def test_custom_default_dir(tmp_path):
    defaults = config_dir(tmp_path, "defaults", {"apiserver.conf": "listen { port: 1 }", "x/y.conf": "z: 2"})
    tree = load_config(environ={}, default_dir=defaults)
    assert tree.get("apiserver.listen.port") == 1
    assert tree.get("x.y.z") == 2
    assert "hosts" not in tree


def test_files_other_than_conf_and_hidden_folders_are_ignored(tmp_path):
    defaults = config_dir(
        tmp_path, "defaults",
        {"a.conf": "k: 1", "b.json": "{}", "notes.txt": "not hocon {", ".hidden/c.conf": "k: 3", "_private/d.conf": "k: 4"},
    )
    tree = load_config(environ={}, default_dir=defaults)
    assert tree.as_plain_ordered_dict() == {"a": {"k": 1}}


# -- CLEARML_CONFIG_DIR ----------------------------------------------------------------------------------


def test_config_dir_overrides_one_key_and_keeps_siblings(tmp_path):
    extra = config_dir(tmp_path, "extra", {"apiserver.conf": "listen { port: 9008 }"})
    tree = load(CLEARML_CONFIG_DIR=str(extra))
    assert tree.get("apiserver.listen.port") == 9008
    assert tree.get("apiserver.listen.host") == "127.0.0.1"
    assert tree.get("apiserver.max_api_version") == "2.31"
    assert tree.get("hosts.mongo.backend.host") == "mongodb://127.0.0.1:27017/backend"


def test_config_dir_adds_new_keys(tmp_path):
    extra = config_dir(tmp_path, "extra", {"apiserver.conf": "new_section { flag: true }", "custom.conf": "a: 1"})
    tree = load(CLEARML_CONFIG_DIR=str(extra))
    assert tree.get("apiserver.new_section.flag") is True
    assert tree.get("custom.a") == 1
    assert tree.get("apiserver.listen.port") == 8008


def test_several_config_dirs_later_wins(tmp_path):
    first = config_dir(tmp_path, "first", {"apiserver.conf": "listen { port: 1001, host: first }\nonly_first: 1"})
    second = config_dir(tmp_path, "second", {"apiserver.conf": "listen { port: 1002 }\nonly_second: 2"})
    tree = load(CLEARML_CONFIG_DIR=os.pathsep.join([str(first), str(second)]))
    assert tree.get("apiserver.listen.port") == 1002
    assert tree.get("apiserver.listen.host") == "first"
    assert tree.get("apiserver.only_first") == 1
    assert tree.get("apiserver.only_second") == 2


def test_missing_config_dir_is_an_error_naming_it(tmp_path):
    present = config_dir(tmp_path, "present", {})
    missing = tmp_path / "not-there"
    with pytest.raises(ConfigError) as info:
        load(CLEARML_CONFIG_DIR=os.pathsep.join([str(present), str(missing)]))
    assert str(missing) in str(info.value)
    assert "CLEARML_CONFIG_DIR" in str(info.value)


@pytest.mark.parametrize("exists", [True, False], ids=["exists", "absent"])
def test_opt_clearml_config_used_only_when_it_exists(tmp_path, monkeypatch, exists):
    default_extra = tmp_path / "opt-clearml-config"
    if exists:
        config_dir(tmp_path, "opt-clearml-config", {"apiserver.conf": "listen { port: 7777 }"})
    monkeypatch.setattr(loader, "DEFAULT_EXTRA_DIRS", (str(default_extra),))
    assert load().get("apiserver.listen.port") == (7777 if exists else 8008)


def test_config_dir_env_replaces_opt_clearml_config(tmp_path, monkeypatch):
    opt = config_dir(tmp_path, "opt", {"apiserver.conf": "listen { port: 7777 }\nfrom_opt: 1"})
    extra = config_dir(tmp_path, "extra", {"apiserver.conf": "from_env_dir: 1"})
    monkeypatch.setattr(loader, "DEFAULT_EXTRA_DIRS", (str(opt),))
    tree = load(CLEARML_CONFIG_DIR=str(extra))
    assert tree.get("apiserver.listen.port") == 8008
    assert "from_opt" not in tree.get_config("apiserver")
    assert tree.get("apiserver.from_env_dir") == 1


# -- the ClearML documentation's own examples: services.conf == services/tasks.conf ---------------------

SERVICES_LAYOUTS = {
    "one-file": {"services.conf": "tasks {\n    multi_task_histogram_limit: 20\n}\n"},
    "folder": {"services/tasks.conf": "multi_task_histogram_limit: 20\n"},
}


@pytest.mark.parametrize("layout", SERVICES_LAYOUTS, ids=list(SERVICES_LAYOUTS))
def test_services_override_file_or_folder(tmp_path, layout):
    extra = config_dir(tmp_path, "extra", SERVICES_LAYOUTS[layout])
    tree = load(CLEARML_CONFIG_DIR=str(extra))
    assert tree.get("services.tasks.multi_task_histogram_limit") == 20
    # Other keys of services.tasks and other services survive.
    assert tree.get("services.tasks.non_responsive_tasks_watchdog.threshold_sec") == 7200
    assert tree.get("services.tasks.max_last_metrics") == 2000
    assert set(tree.get_config("services").keys()) >= {"projects", "queues", "tasks", "workers"}


def test_services_file_and_folder_give_the_same_tree(tmp_path):
    trees = [
        load(CLEARML_CONFIG_DIR=str(config_dir(tmp_path, layout, files))).as_plain_ordered_dict()
        for layout, files in SERVICES_LAYOUTS.items()
    ]
    assert trees[0] == trees[1]


def test_dotted_file_name_nests(tmp_path):
    extra = config_dir(tmp_path, "extra", {"services.tasks.conf": "multi_task_histogram_limit: 30"})
    tree = load(CLEARML_CONFIG_DIR=str(extra))
    assert tree.get("services.tasks.multi_task_histogram_limit") == 30
    assert tree.get("services.tasks.max_last_metrics") == 2000


def test_dash_prefixed_key_replaces_instead_of_merging(tmp_path):
    extra = config_dir(tmp_path, "extra", {"secure.conf": '-credentials { mine { user_key: k, user_secret: s } }'})
    tree = load(CLEARML_CONFIG_DIR=str(extra))
    assert list(tree.get_config("secure.credentials").keys()) == ["mine"]


# -- dynamic CLEARML__<file>__<path> overrides ----------------------------------------------------------


def test_docs_example_user_secret_with_quotes():
    tree = load(CLEARML__SECURE__CREDENTIALS__APISERVER__USER_SECRET='"my-new-secret"')
    assert tree.get("secure.credentials.apiserver.user_secret") == "my-new-secret"
    assert tree.get("secure.credentials.apiserver.role") == "system"
    assert tree.get("secure.credentials.apiserver.user_key") == ""


@pytest.mark.parametrize(
    "name, value, key, expected",
    [
        ("CLEARML__SERVICES__TASKS__MULTI_TASK_HISTOGRAM_LIMIT", "50", "services.tasks.multi_task_histogram_limit", 50),
        ("CLEARML__APISERVER__AUTH__FIXED_USERS__ENABLED", "true", "apiserver.auth.fixed_users.enabled", True),
        ("CLEARML__APISERVER__CHECK_MAX_VERSION", "false", "apiserver.check_max_version", False),
        ("CLEARML__HOSTS__ELASTIC__EVENTS__ARGS__TIMEOUT", "2.5", "hosts.elastic.events.args.timeout", 2.5),
        ("CLEARML__APISERVER__CORS__ORIGINS", "[1, 2]", "apiserver.cors.origins", [1, 2]),
        ("CLEARML__APISERVER__CORS__ORIGINS", '["http://a", "http://b"]', "apiserver.cors.origins", ["http://a", "http://b"]),
        ("CLEARML__APISERVER__LISTEN__HOST", "0.0.0.0", "apiserver.listen.host", "0.0.0.0"),
        ("CLEARML__APISERVER__NEW_KEY", "plain words", "apiserver.new_key", "plain words"),
        ("CLEARML__APISERVER__Listen__PORT", "9100", "apiserver.listen.port", 9100),
        ("CLEARML__apiserver__listen__port", "9101", "apiserver.listen.port", 9101),
        ("CLEARML__HOSTS__MONGO__BACKEND__HOST", "mongodb://db:27017/backend", "hosts.mongo.backend.host",
         "mongodb://db:27017/backend"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("CLEARML__") else None,
)
def test_dynamic_override_values_are_hocon(name, value, key, expected):
    actual = load(**{name: value}).get(key)
    assert actual == expected
    assert type(actual) is type(expected)


def test_dynamic_override_object_value():
    tree = load(CLEARML__CUSTOM__SECTION="{a: 1, b: {c: x}}")
    assert tree.get("custom.section.a") == 1
    assert tree.get("custom.section.b.c") == "x"


def test_dynamic_override_object_value_merges_into_existing_section():
    tree = load(CLEARML__APISERVER__LISTEN="{port: 9000}")
    assert tree.get("apiserver.listen.port") == 9000
    assert tree.get("apiserver.listen.host") == "127.0.0.1"


def test_dynamic_override_keeps_siblings():
    tree = load(CLEARML__APISERVER__LISTEN__PORT="9008")
    assert tree.get("apiserver.listen.host") == "127.0.0.1"
    assert tree.get("apiserver.company.name") == "trackside"


def test_several_dynamic_overrides_combine():
    tree = load(CLEARML__APISERVER__LISTEN__PORT="1", CLEARML__APISERVER__LISTEN__HOST="h")
    assert (tree.get("apiserver.listen.host"), tree.get("apiserver.listen.port")) == ("h", 1)


def test_dynamic_overrides_beat_config_dir_files(tmp_path):
    extra = config_dir(tmp_path, "extra", {"apiserver.conf": "listen { port: 9008, host: from-file }"})
    tree = load(CLEARML_CONFIG_DIR=str(extra), CLEARML__APISERVER__LISTEN__PORT="9009")
    assert tree.get("apiserver.listen.port") == 9009
    assert tree.get("apiserver.listen.host") == "from-file"


def test_dynamic_overrides_beat_fixed_service_variables():
    tree = load(
        CLEARML_MONGODB_SERVICE_HOST="fixed", CLEARML_MONGODB_SERVICE_PORT="1",
        CLEARML__HOSTS__MONGO__BACKEND__HOST='"mongodb://dynamic:2/backend"',
    )
    assert tree.get("hosts.mongo.backend.host") == "mongodb://dynamic:2/backend"
    assert tree.get("hosts.mongo.auth.host") == "mongodb://fixed:1/auth"


def test_unrelated_environment_variables_are_ignored():
    tree = load(CLEARML_API_HOST="http://x", CLEARMLX__A="1", PATH="/bin")
    assert "clearmlx" not in tree and "a" not in tree


@pytest.mark.parametrize(
    "name, value",
    [
        ("CLEARML__APISERVER__CORS__ORIGINS", "[1, 2"),
        ("CLEARML__APISERVER__LISTEN", "{port: 1"),
        ("CLEARML__APISERVER__LISTEN__PORT", "${undefined.key}"),
        ("CLEARML__", "1"),
        ("CLEARML__A____B", "1"),
    ],
)
def test_malformed_dynamic_override_names_the_variable(tiny_defaults, name, value):
    with pytest.raises(ConfigError) as info:
        load_config(environ={name: value}, default_dir=tiny_defaults)
    message = str(info.value)
    assert name in message
    assert len(message) < 500


# -- the fixed CLEARML_*_SERVICE_{HOST,PORT} variables ----------------------------------------------------


def test_mongodb_service_host_and_port():
    tree = load(CLEARML_MONGODB_SERVICE_HOST="H", CLEARML_MONGODB_SERVICE_PORT="1234")
    assert tree.get("hosts.mongo.backend.host") == "mongodb://H:1234/backend"
    assert tree.get("hosts.mongo.auth.host") == "mongodb://H:1234/auth"


@pytest.mark.parametrize(
    "environ, backend",
    [
        ({"CLEARML_MONGODB_SERVICE_HOST": "H"}, "mongodb://H:27017/backend"),
        ({"CLEARML_MONGODB_SERVICE_PORT": "1234"}, "mongodb://127.0.0.1:1234/backend"),
    ],
)
def test_mongodb_service_host_or_port_alone(environ, backend):
    assert load(**environ).get("hosts.mongo.backend.host") == backend


def test_elastic_service_host_and_port():
    tree = load(CLEARML_ELASTIC_SERVICE_HOST="es", CLEARML_ELASTIC_SERVICE_PORT="9201")
    for cluster in ("events", "workers"):
        hosts = tree.get(f"hosts.elastic.{cluster}.hosts")
        assert [dict(h) for h in hosts] == [{"host": "es", "port": 9201, "scheme": "http"}]
        assert tree.get(f"hosts.elastic.{cluster}.args.timeout") == 60


def test_redis_service_host_and_port():
    tree = load(CLEARML_REDIS_SERVICE_HOST="rd", CLEARML_REDIS_SERVICE_PORT="6380")
    assert tree.get("hosts.redis.apiserver.host") == "rd"
    assert tree.get("hosts.redis.apiserver.port") == 6380
    assert tree.get("hosts.redis.apiserver.db") == 0
    assert tree.get("hosts.redis.workers.db") == 4


def test_fixed_service_variables_beat_config_dir_files(tmp_path):
    extra = config_dir(tmp_path, "extra", {"hosts.conf": 'mongo { backend { host: "mongodb://file:1/backend" } }'})
    tree = load(CLEARML_CONFIG_DIR=str(extra), CLEARML_MONGODB_SERVICE_HOST="env")
    assert tree.get("hosts.mongo.backend.host") == "mongodb://env:27017/backend"


def test_empty_fixed_service_variables_are_ignored():
    tree = load(CLEARML_MONGODB_SERVICE_HOST="", CLEARML_REDIS_SERVICE_PORT="")
    assert tree.get("hosts.mongo.backend.host") == "mongodb://127.0.0.1:27017/backend"
    assert tree.get("hosts.redis.apiserver.port") == 6379


@pytest.mark.parametrize("service", ["MONGODB", "ELASTIC", "REDIS"])
@pytest.mark.parametrize("port", ["abc", "80a", "-1", "1.5"])
def test_non_numeric_service_port_is_a_config_error(tiny_defaults, service, port):
    name = f"CLEARML_{service}_SERVICE_PORT"
    with pytest.raises(ConfigError) as info:
        load_config(environ={name: port}, default_dir=tiny_defaults)
    assert name in str(info.value)


# -- malformed .conf files -------------------------------------------------------------------------------

BAD_FILES = [
    pytest.param("x = 1\ny = 2\nz = }\n", 3, id="stray-brace-line-3"),
    pytest.param('x = 1\ny = 2\nz = "abc\n', 3, id="unterminated-string-line-3"),
    pytest.param("# comment\nx = 1\na = [1, 2", 3, id="unclosed-list-line-3-no-final-newline"),
    pytest.param("x = 1\ny = 2\nlisten { port: 8008", 3, id="unclosed-brace-line-3-no-final-newline"),
    pytest.param(
        "# comment\nx = 1\na = [1, 2\n", 3, id="unclosed-list-line-3",
    ),
    pytest.param(
        "x = 1\ny = 2\nlisten { port: 8008\n", 3, id="unclosed-brace-line-3",
    ),
]


@pytest.mark.parametrize("text, line", BAD_FILES)
def test_bad_conf_file_names_file_and_line(tmp_path, tiny_defaults, text, line):
    extra = config_dir(tmp_path, "extra", {"apiserver.conf": text})
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CLEARML_CONFIG_DIR": str(extra)}, default_dir=tiny_defaults)
    message = str(info.value)
    assert str(extra / "apiserver.conf") in message
    assert f"line {line}" in message
    assert len(message) < 500
    assert "\n" not in message


def test_bad_conf_file_in_default_dir(tmp_path):
    defaults = config_dir(tmp_path, "defaults", {"services/tasks.conf": "a = [1, 2"})
    with pytest.raises(ConfigError) as info:
        load_config(environ={}, default_dir=defaults)
    assert str(defaults / "services" / "tasks.conf") in str(info.value)
    assert "line 1" in str(info.value)


def test_bad_conf_file_error_is_not_chained(tmp_path, tiny_defaults):
    """No pyparsing exception (and its grammar dump) travels with the error."""
    extra = config_dir(tmp_path, "extra", {"apiserver.conf": "listen { port: 8008"})
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CLEARML_CONFIG_DIR": str(extra)}, default_dir=tiny_defaults)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"x = ${undefined.key}\n", "undefined.key"),
        (b"\xff\xfe\x00 not utf-8", "utf-8"),
    ],
    ids=["unresolved-substitution", "not-utf8"],
)
def test_unreadable_conf_file_names_the_file(tmp_path, tiny_defaults, content, fragment):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "apiserver.conf").write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(environ={"CLEARML_CONFIG_DIR": str(extra)}, default_dir=tiny_defaults)
    message = str(info.value)
    assert str(extra / "apiserver.conf") in message
    assert fragment in message
    assert len(message) < 500
