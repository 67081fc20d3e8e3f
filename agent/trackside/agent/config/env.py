"""Environment variables that override ``clearml.conf`` keys, as clearml-agent reads them.

The first name of each row wins; the legacy ``TRAINS_*`` names are read too. Values are parsed by the
key's type in the schema (``"1"``/``"true"`` for booleans, comma- or space-separated lists).
"""
from __future__ import annotations

# config key -> environment variable names, most specific first
OVERRIDES: dict[str, tuple[str, ...]] = {
    "api.api_server": ("CLEARML_API_HOST", "TRAINS_API_HOST"),
    "api.web_server": ("CLEARML_WEB_HOST", "TRAINS_WEB_HOST"),
    "api.files_server": ("CLEARML_FILES_HOST", "TRAINS_FILES_HOST"),
    "api.credentials.access_key": ("CLEARML_API_ACCESS_KEY", "TRAINS_API_ACCESS_KEY"),
    "api.credentials.secret_key": ("CLEARML_API_SECRET_KEY", "TRAINS_API_SECRET_KEY"),
    "api.verify_certificate": ("CLEARML_API_HOST_VERIFY_CERT", "TRAINS_API_HOST_VERIFY_CERT"),
    "agent.worker_id": ("CLEARML_WORKER_ID", "TRAINS_WORKER_ID"),
    "agent.worker_name": ("CLEARML_WORKER_NAME", "TRAINS_WORKER_NAME"),
    "agent.git_user": ("CLEARML_AGENT_GIT_USER", "TRAINS_AGENT_GIT_USER"),
    "agent.git_pass": ("CLEARML_AGENT_GIT_PASS", "TRAINS_AGENT_GIT_PASS"),
    "agent.git_host": ("CLEARML_AGENT_GIT_HOST", "TRAINS_AGENT_GIT_HOST"),
    "agent.cpu_only": ("CLEARML_CPU_ONLY", "TRAINS_CPU_ONLY", "CPU_ONLY"),
    "agent.cuda_version": ("CLEARML_CUDA_VERSION", "TRAINS_CUDA_VERSION", "CUDA_VERSION"),
    "agent.cudnn_version": ("CLEARML_CUDNN_VERSION", "TRAINS_CUDNN_VERSION", "CUDNN_VERSION"),
    "agent.crash_on_exception": ("CLEARML_AGENT_CRASH_ON_EXCEPTION",),
    "agent.venvs_cache.path": ("CLEARML_AGENT_VENV_CACHE_PATH",),
    "agent.package_manager.system_site_packages": ("CLEARML_AGENT_FORCE_SYSTEM_SITE_PACKAGES",),
    "agent.package_manager.extra_pip_install_flags": ("CLEARML_EXTRA_PIP_INSTALL_FLAGS",),
    "agent.status_report_interval_sec": ("CLEARML_AGENT_STATUS_REPORT_FREQ_SEC",),
    "agent.disable_ssh_mount": ("CLEARML_AGENT_DISABLE_SSH_MOUNT",),
    "agent.extra_docker_arguments": ("CLEARML_AGENT_EXTRA_DOCKER_ARGS",),
    "agent.extra_docker_labels": ("CLEARML_AGENT_EXTRA_DOCKER_LABELS",),
    "agent.default_docker.image": ("CLEARML_DOCKER_IMAGE", "TRAINS_DOCKER_IMAGE"),
}

# Read where they are used rather than mapped onto a key (they change behaviour, not configuration).
CONFIG_FILE = ("CLEARML_CONFIG_FILE", "TRAINS_CONFIG_FILE")
FORCE_POETRY = "CLEARML_AGENT_FORCE_POETRY"
SKIP_PYTHON_ENV_INSTALL = "CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL"
EXTRA_PYTHON_PATH = "CLEARML_AGENT_EXTRA_PYTHON_PATH"
WORKER_TAGS = "CLEARML_WORKER_TAGS"


def first_set(environ, names) -> str | None:
    for name in names:
        if environ.get(name) is not None:
            return environ[name]
    return None
