"""Docker mode's pure parts: CLI arguments to docker-py keywords, which image a task gets, container names,
host-path translation and the configuration the agent in the container reads (no engine needed)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from trackside.agent.config.loader import AgentConfig, load_config
from trackside.agent.docker.arguments import DockerArgumentError, parse_arguments
from trackside.agent.docker.mounts import host_path
from trackside.agent.docker.spec import container_name, inner_config, setup_script, task_image


@pytest.fixture
def config(tmp_path) -> AgentConfig:
    (tmp_path / "clearml.conf").write_text(
        'api { api_server: "http://127.0.0.1:8008", credentials { access_key: "K", secret_key: "S3CRET" } }\n'
        'agent { extra_docker_shell_script: ["echo agent-setup"], venvs_dir: "/home/me/.clearml/venvs-builds",'
        ' venvs_cache.path: "/home/me/cache" }\n'
        'sdk { aws { s3 { key: "AK", secret: "S3-SECRET" } } }\n'
        'environment { FROM_CONF: "1" }\n')
    return load_config(tmp_path / "clearml.conf", environ={})


def test_docker_cli_arguments_become_docker_py_keywords():
    kwargs = parse_arguments(["--network host", "-e A=1", "--env=B=two", "-v /data:/data:ro", "--ipc=host",
                              "--shm-size", "8g", "--privileged", "-l team=ml", "--gpus device=0,1",
                              "--ulimit", "nofile=1024:2048", "--cpus", "1.5", "--rm"])
    assert kwargs["network_mode"] == "host" and kwargs["ipc_mode"] == "host" and kwargs["shm_size"] == "8g"
    assert kwargs["environment"] == {"A": "1", "B": "two"} and kwargs["labels"] == {"team": "ml"}
    assert kwargs["volumes"] == ["/data:/data:ro"] and kwargs["privileged"] is True
    assert kwargs["device_requests"][0]["DeviceIDs"] == ["0", "1"]
    assert kwargs["ulimits"][0]["Soft"] == 1024 and kwargs["ulimits"][0]["Hard"] == 2048
    assert kwargs["nano_cpus"] == 1_500_000_000


@pytest.mark.parametrize("args,complaint", [
    (["--publish 80:80"], "'--publish' is not supported"),
    (["--network"], "needs a value"),
    (["--entrypoint /bin/sh"], "not allowed"),
    (["--gpus", "some"], "expected all, a count or device="),
    (["-e", "=x"], "expected NAME=VALUE"),
])
def test_unsupported_or_malformed_arguments_are_refused_by_name(args, complaint):
    with pytest.raises(DockerArgumentError, match=complaint):
        parse_arguments(args, forbidden=["entrypoint"])


def test_the_task_image_wins_then_the_flag_then_the_default(config):
    task = {"container": {"image": "task/img:1", "arguments": "--ipc host"}}
    assert task_image(task, config, ["flag/img", "--shm-size", "1g"]) == ("task/img:1", ["--ipc", "host"])
    legacy = {"execution": {"docker_cmd": "legacy/img -e X=1"}}
    assert task_image(legacy, config, None) == ("legacy/img", ["-e", "X=1"])
    assert task_image({}, config, ["flag/img", "--shm-size 1g"]) == ("flag/img", ["--shm-size", "1g"])
    assert task_image({}, config, None)[0] == config.get("agent.default_docker.image")
    config.set("agent.disable_task_docker_override", True)
    assert task_image(task, config, ["flag/img"])[0] == "flag/img"


def test_setup_script_is_the_task_s_then_the_agent_s(config):
    task = {"container": {"setup_shell_script": "apt-get update\n\necho task-setup"}}
    assert setup_script(task, config) == ["apt-get update", "echo task-setup", "echo agent-setup"]


def test_container_names_follow_the_format_and_stay_valid(config):
    assert container_name(config, {"id": "abc"}, "host:gpu0:1234").startswith("trackside-abc-")
    config.set("agent.docker_container_name_format", "clearml-id-{task_id}-{worker_id}")
    assert container_name(config, {"id": "abc"}, "host:gpu0") == "clearml-id-abc-host-gpu0"
    config.set("agent.docker_container_name_format", "x-{nope}")   # more in test_agent_docker_custom_apps.py
    assert container_name(config, {"id": "abc"}, "w").startswith("trackside-abc-")


def test_host_mount_translation_rewrites_only_paths_under_the_agent_s_folder():
    environ = {"CLEARML_AGENT_DOCKER_HOST_MOUNT": "/mnt/host/clearml:/root/.clearml"}
    assert host_path("/root/.clearml/venvs-cache", environ) == "/mnt/host/clearml/venvs-cache"
    assert host_path("/root/.clearml", environ) == "/mnt/host/clearml"
    assert host_path("/root/.clearmlx/a", environ) == "/root/.clearmlx/a"
    assert host_path("/tmp/x", {}) == "/tmp/x"
    with pytest.raises(ValueError, match="CLEARML_AGENT_DOCKER_HOST_MOUNT"):
        host_path("/x", {"CLEARML_AGENT_DOCKER_HOST_MOUNT": "nocolon"})


def test_the_inner_configuration_moves_the_folders_into_the_container_and_keeps_the_credentials(config):
    inner = json.loads(inner_config(config))
    assert inner["api"]["credentials"]["secret_key"] == "S3CRET"
    assert inner["agent"]["venvs_dir"] == "/root/.clearml/venvs-builds"
    assert inner["agent"]["venvs_cache"]["path"] == "/root/.clearml/venvs-cache"
    assert "force_git_ssh_port" not in inner["agent"]   # unset values are left to the inner defaults
    # Every other section goes in too (the task's SDK reads its storage credentials there), and the SDK's
    # cache is the mounted one.
    assert inner["sdk"]["aws"]["s3"]["secret"] == "S3-SECRET"
    assert inner["sdk"]["storage"]["cache"]["default_base_dir"] == "/clearml_agent_cache"
    assert inner["environment"] == {"FROM_CONF": "1"}


def test_restart_policies_apply_to_the_selected_tasks_only():
    from trackside.agent.docker.restart import restart_policy
    task = {"container": {"image": "svc:1"}, "hyperparams": {"General": {"port": {"value": "80"}}}, "priority": 2}
    assert restart_policy("unless-stopped", task) == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert restart_policy("on-failure:3", task) == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert restart_policy("always;container.image=svc:1", task)["Name"] == "always"
    assert restart_policy("always;container.image=other", task) is None
    assert restart_policy("always;hyperparams.General.port", task)["Name"] == "always"
    assert restart_policy("always;hyperparams.General.missing", task) is None
    assert restart_policy("always;priority=2", task)["Name"] == "always"      # compared as a number
    assert restart_policy("no", task) is None and restart_policy("", task) is None
    for bad in ("sometimes", "always:3", "on-failure:x"):   # ignored, said (test_agent_docker_custom_apps.py)
        assert restart_policy(bad, task) is None


def test_caches_and_ssh_are_mounted_where_the_stock_agent_puts_them(config, tmp_path):
    from trackside.agent.docker.mounts import cache_mounts, ssh_environment
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    for key in ("agent.docker_pip_cache", "agent.docker_apt_cache", "agent.vcs_cache.path",
                "agent.venvs_cache.path", "agent.pip_download_cache.path"):
        config.set(key, str(tmp_path / key.split(".")[-2 if key.endswith(".path") else -1]))
    mounts = {m.target: m for m in cache_mounts(config, {"HOME": str(home)})}
    assert set(mounts) == {"/root/.cache/pip", "/var/cache/apt/archives", "/root/.clearml/vcs-cache",
                           "/root/.clearml/venvs-cache", "/root/.clearml/pip-download-cache", "/root/.ssh",
                           "/clearml_agent_cache"}
    assert mounts["/root/.ssh"].read_only and mounts["/root/.ssh"].source == str(home / ".ssh")
    # The SDK's cache: its default under the agent's HOME unless clearml.conf names one.
    assert mounts["/clearml_agent_cache"].source == str(home / ".clearml" / "cache")
    config.set("sdk.storage.cache.default_base_dir", "~/sdk-cache")
    config.set("agent.docker_internal_mounts", {"sdk_cache": "/cache", "pip_cache": "/pip", "ssh_ro_folder": "/keys"})
    moved = {m.target: m.source for m in cache_mounts(config, {"HOME": str(home)})}
    assert moved["/cache"] == str(home / "sdk-cache") and moved["/pip"] == str(tmp_path / "docker_pip_cache")
    assert "/keys" in moved and "/root/.ssh" not in moved and "/clearml_agent_cache" not in moved
    config.set("agent.docker_internal_mounts", {})
    assert all((tmp_path / name).is_dir() for name in ("docker_pip_cache", "vcs_cache"))   # made if missing
    sock = tmp_path / "agent.sock"
    sock.touch()
    with_agent = cache_mounts(config, {"HOME": str(home), "SSH_AUTH_SOCK": str(sock)})
    assert "/root/.ssh" not in {m.target for m in with_agent}       # the socket, not the keys
    assert ssh_environment(with_agent) == {"SSH_AUTH_SOCK": "/run/ssh-agent.sock"}
    config.set("agent.disable_ssh_mount", True)
    assert not any("ssh" in m.target for m in cache_mounts(config, {"HOME": str(home)}))


def test_the_agent_venv_in_a_container_is_kept_per_wheels_folder(tmp_path):
    """A changed agent of the same version (new wheels folder) gets a venv of its own, never the old one."""
    from trackside.agent.docker.agent_install import bootstrap_script
    old = bootstrap_script([], ["execute"], Path("/cache/wheels/1.0-aaaa"))
    new = bootstrap_script([], ["execute"], Path("/cache/wheels/1.0-bbbb"))
    assert "/1.0-aaaa-$KEY" in old and "/1.0-bbbb-$KEY" in new and "1.0-aaaa" not in new
    # With a build slot, the task's venvs folder is a link into it (inside the venv cache's mount).
    linked = bootstrap_script([], ["execute"], Path("/w/1.0-aaaa"), "/root/.clearml/venvs-cache/.docker_builds/3")
    assert "ln -s /root/.clearml/venvs-cache/.docker_builds/3 /root/.clearml/venvs-builds" in linked
    assert "ln -s" not in old


@pytest.mark.parametrize("environ,gpus_here,asked,variable", [
    ({"CUDA_VISIBLE_DEVICES": "2,3", "NVIDIA_VISIBLE_DEVICES": "2,3"}, 8, ["2", "3"], None),   # --gpus / dynamic
    ({"CUDA_VISIBLE_DEVICES": "", "NVIDIA_VISIBLE_DEVICES": "none"}, 8, None, "none"),         # --cpu-only
    ({"NVIDIA_VISIBLE_DEVICES": "all"}, 8, "all", None),                                       # --gpus all
    ({}, 8, "all", None),          # no restriction on a GPU machine: every GPU, as clearml-agent's --gpus all
    ({}, 0, None, None),           # ... and on a CPU machine nothing (a GPU request would fail the container)
    ({"CUDA_VISIBLE_DEVICES": "0", "CLEARML_DOCKER_SKIP_GPUS_FLAG": "1"}, 8, None, "0"),      # nvidia runtime
    ({"CLEARML_DOCKER_SKIP_GPUS_FLAG": "1"}, 8, None, "all"),
])
def test_the_task_s_gpus_become_a_device_request(monkeypatch, environ, gpus_here, asked, variable):
    from trackside.agent.docker import spec
    monkeypatch.setattr(spec, "detect_gpu_count", lambda: gpus_here)
    options, environment = {}, {}
    spec._gpus(options, environment, environ)
    requests = options.get("device_requests")
    if asked is None:
        assert requests is None
    elif asked == "all":
        assert requests[0]["Count"] == -1 and requests[0]["Capabilities"] == [["gpu"]]
    else:
        assert requests[0]["DeviceIDs"] == asked
    assert environment.get("NVIDIA_VISIBLE_DEVICES") == variable
