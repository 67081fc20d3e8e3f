"""Every key of ``clearml.conf``'s ``agent`` section, with its type and default: the one table the loader
validates against (unknown or wrong-typed keys are refused, naming the key) and fills defaults from.

The keys and defaults follow clearml-agent's documented section, so an existing ``clearml.conf`` loads
unchanged. Docker keys are accepted here and used by docker mode.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    """A leaf value's type: ``name`` as said in errors, ``check`` returns the normalised value or raises."""
    name: str
    default: Any = None

    def check(self, value: Any) -> Any:
        raise NotImplementedError


class Str(Kind):
    def __init__(self, default: str | None = ""):
        super().__init__("a string", default)

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError
        return str(value)


class Bool(Kind):
    def __init__(self, default: bool | None = False):
        super().__init__("true or false", default)

    def check(self, value):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise TypeError


TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0", ""}


class Int(Kind):
    def __init__(self, default: int | None = 0):
        super().__init__("an integer", default)

    def check(self, value):
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            return int(value.strip())
        raise TypeError


class Float(Kind):
    def __init__(self, default: float | None = 0.0):
        super().__init__("a number", default)

    def check(self, value):
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            return float(value.strip())
        raise TypeError


class StrList(Kind):
    """A list of strings; a single string is taken as a one-item list (clearml.conf allows both)."""
    def __init__(self, default: list | None = None):
        super().__init__("a list of strings", list(default or []))

    def check(self, value):
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if value else []
        if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                                      for v in value):
            return [str(v) for v in value]
        raise TypeError


class Mapping(Kind):
    """A free-form object (environment variables, files, docker labels...), kept as a plain dict."""
    def __init__(self, default: dict | None = None):
        super().__init__("an object", dict(default or {}))

    def check(self, value):
        if value is None:
            return {}
        if isinstance(value, dict):
            return plain(value)
        raise TypeError


class Anything(Kind):
    """Values whose shape is the user's (``match_rules``)."""
    def __init__(self, default: Any = None):
        super().__init__("any value", default)

    def check(self, value):
        return plain(value)


class Choice(Kind):
    def __init__(self, *choices: str, default: str | None = None):
        super().__init__("one of " + ", ".join(choices), choices[0] if default is None else default)
        object.__setattr__(self, "choices", choices)

    def check(self, value):
        if isinstance(value, str) and value.strip().lower() in self.choices:
            return value.strip().lower()
        raise TypeError


def plain(value: Any) -> Any:
    """pyhocon trees as plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# The `agent` section. Nested dicts are sub-sections; leaves are Kinds.
AGENT: dict = {
    "worker_id": Str(""),
    "worker_name": Str(""),
    "git_user": Str(""),
    "git_pass": Str(""),
    "git_host": Str(""),
    "git_host_match_prefix": Bool(False),
    "force_git_ssh_protocol": Bool(False),
    "force_git_ssh_port": Int(None),
    "force_git_ssh_user": Str(None),
    "force_git_root_python_path": Bool(False),
    "git_fetch_args": StrList(["--all", "--tags"]),
    "enable_git_ask_pass": Bool(True),
    "translate_ssh": Bool(True),
    "translate_ssl_replacement_scheme": Str("https"),
    "python_binary": Str(""),
    "ignore_requested_python_version": Bool(False),
    "package_manager": {
        "type": Choice("pip", "conda", "poetry", "uv"),
        "pip_version": StrList([]),
        "poetry_version": Str(""),
        "poetry_install_extra_args": StrList([]),
        "uv_version": Str(""),
        "uv_sync_locked_if_lock_file": Bool(True),
        "system_site_packages": Bool(False),
        "force_upgrade": Bool(False),
        "extra_index_url": StrList([]),
        "extra_pip_install_flags": StrList([]),
        "pip_legacy_resolver": StrList([]),
        "conda_channels": StrList(["defaults", "conda-forge"]),
        "conda_full_env_update": Bool(False),
        "conda_env_as_base_docker": Bool(False),
        "force_repo_requirements_txt": Bool(False),
        "force_original_requirements": Bool(False),
        "priority_packages": StrList([]),
        "priority_optional_packages": StrList([]),
        "post_packages": StrList([]),
        "post_optional_packages": StrList([]),
        "torch_nightly": Bool(False),
        "poetry_files_from_repo_working_dir": Bool(False),
        "uv_files_from_repo_working_dir": Bool(False),
    },
    "venvs_dir": Str("~/.clearml/venvs-builds"),
    "venvs_cache": {
        "max_entries": Int(10),
        "free_space_threshold_gb": Float(2.0),
        "path": Str("~/.clearml/venvs-cache"),
    },
    "vcs_cache": {
        "enabled": Bool(True),
        "path": Str("~/.clearml/vcs-cache"),
        "clone_on_pull_fail": Bool(True),
    },
    "pip_download_cache": {
        "enabled": Bool(True),
        "path": Str("~/.clearml/pip-download-cache"),
    },
    "reload_config": Bool(False),
    "enable_task_env": Bool(False),
    "cpu_only": Bool(False),
    "cuda_version": Str(""),
    "cudnn_version": Str(""),
    "task_ping_interval_sec": Float(60.0),
    "status_report_interval_sec": Float(30.0),
    "stop_poll_interval_sec": Float(1.0),   # a stop request ends the task within about a second or two
    "log_flush_interval_sec": Float(1.0),
    "abort_callback_max_timeout": Int(1800),
    "uptime": StrList([]),
    "downtime": StrList([]),
    "apply_environment": Bool(True),
    "apply_files": Bool(True),
    "environment": Mapping(),
    "files": Mapping(),
    "custom_build_script": Str(""),
    "crash_on_exception": Bool(False),
    "child_report_tags": StrList([]),
    "hide_docker_command_env_vars": {
        "enabled": Bool(True),
        "extra_keys": StrList([]),
        "parse_embedded_urls": Bool(True),
    },
    "sanitize_config_printout": {
        "hide_secrets": StrList(["secret", "pass", "token", "account_key", "contents"]),
        "hide_secrets_recursive": StrList(["^environment$"]),
        "dont_hide_secrets": StrList(["^enable_git_ask_pass$"]),
        "docker_commands": StrList(["^extra_docker_arguments$"]),
        "urls": StrList(["^extra_index_url$"]),
        "extra_keys": StrList([]),
    },
    # Docker mode (agent part 2); accepted now so an existing clearml.conf loads.
    "docker_pip_cache": Str("~/.clearml/pip-cache"),
    "docker_apt_cache": Str("~/.clearml/apt-cache"),
    "docker_force_pull": Bool(False),
    "docker_use_activated_venv": Bool(True),
    "docker_install_opencv_libs": Bool(False),
    "docker_args_extra_precedes_task": Bool(True),
    "docker_container_name_format": Str(""),
    "docker_container_name_format_fields": Mapping(),
    "docker_init_bash_script": StrList([]),
    "docker_preprocess_bash_script": StrList([]),
    "docker_apply_environment_from_vault": Bool(True),
    "docker_args_filters": StrList([]),
    "docker_args_allowed_port_range": Anything(),
    "disable_ssh_mount": Bool(False),
    "disable_task_docker_override": Bool(False),
    "extra_docker_arguments": StrList([]),
    "extra_docker_labels": StrList([]),
    "extra_docker_shell_script": StrList([]),
    "protected_docker_extra_args": StrList([]),
    "forbidden_docker_args": StrList(["entrypoint"]),
    "default_docker": {
        "image": Str("nvidia/cuda:12.6.3-cudnn-runtime-ubuntu20.04"),
        "arguments": StrList([]),
        "update_back_task": Bool(True),
        "match_rules": Anything([]),
    },
    "docker_internal_mounts": Mapping(),
    "bootstrap": Mapping(),
    "suppress_carriage_return": Bool(True),
}

# The `api` section, read for the server addresses and credentials; other keys are the SDK's own.
API: dict = {
    "api_server": Str(""),
    "web_server": Str(""),
    "files_server": Str(""),
    "verify_certificate": Bool(True),
    "credentials": {"access_key": Str(""), "secret_key": Str("")},
}
