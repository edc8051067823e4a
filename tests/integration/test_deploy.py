"""The deployment artefacts through the real tools, offline: every Kustomize overlay rendered by
kubectl (kustomize v5) and every object validated against the Kubernetes JSON schemas that the
pinned `kubernetes-validate` package bundles (strict: unknown fields fail); the compose file
through `docker compose config` (or Debian's docker-compose); HAProxy's config through `haproxy -c`.

Nothing is applied or pulled: no cluster and no registry is reachable here. What the rendered
objects must say beyond the schema (probes, resources, no Secret value, the production guards)
is checked on the rendered output, the thing `kubectl apply -k` would send.
"""

from __future__ import annotations

import base64
import copy
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import kubernetes_validate
import pytest
import yaml

from tests.helpers import PY, ROOT, SERVERS, background, free_port, venv_bin
from tests.test_deploy import drain_seconds, read_env_file, registry_config

pytestmark = pytest.mark.integration

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("base", "overlays/dev", "overlays/production", "examples/self-registering-service")
# the oldest Kubernetes these manifests target and the newest schema the pinned validator bundles
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())
SECRET_KEYS = (
    "UCP_API_KEYS",
    "UCP_REDIS_PASSWORD",
    "UCP_POSTGRES_PASSWORD",
    "UCP_REDIS_URL",
    "UCP_POSTGRES_URL",
)


def kustomize_command() -> list[str]:
    """`kubectl kustomize` when this kubectl embeds kustomize v5, else a `kustomize` v5 binary."""
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True, timeout=60)
        if re.search(r"Kustomize Version: v5\.", out.stdout):
            return [kubectl, "kustomize"]
    standalone = shutil.which("kustomize")
    if standalone:
        out = subprocess.run([standalone, "version"], capture_output=True, text=True, timeout=60)
        if "v5." in out.stdout:
            return [standalone, "build"]
    pytest.fail("rendering needs kubectl with kustomize v5 (kubectl >= 1.27) or kustomize v5 on PATH")


def render(directory: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [*kustomize_command(), str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, f"kustomize {directory}: {out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered from a copy of deploy/k8s whose dev secrets.env the test wrote, as an
    operator would (random values: whatever Secret data comes out came from that file)."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    values = {k: secrets.token_hex(8) for k in SECRET_KEYS}
    (tree / "overlays" / "dev" / "secrets.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    out = {name: render(tree / name) for name in OVERLAYS}
    out["dev-secret-values"] = [values]
    return out


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of that kind and name (or that name plus the hash a generator appends)."""
    hashed = re.compile(re.escape(name) + r"(-[a-z0-9]{10})?")
    (found,) = [o for o in objects if o["kind"] == kind and hashed.fullmatch(o["metadata"]["name"])]
    return found


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_is_valid_kubernetes(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    assert objects
    for version in K8S_VERSIONS:
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(
                    f"{overlay}: {obj['kind']}/{obj['metadata']['name']} invalid for {version}: {exc}"
                )


def test_the_schema_check_refuses_what_a_cluster_would(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """The bundled schemas bite: a misspelt probe field and a mistyped replica count are refused."""
    deployment = copy.deepcopy(one(rendered["overlays/production"], "Deployment", "ucp"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    with pytest.raises(kubernetes_validate.ValidationError, match="paht"):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)
    deployment = copy.deepcopy(one(rendered["overlays/production"], "Deployment", "ucp"))
    deployment["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError, match="three"):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_has_probes_resources_and_no_root(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    workloads = [o for o in rendered[overlay] if o["kind"] in ("Deployment", "StatefulSet")]
    assert workloads
    for obj in workloads:
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        assert pod.get("automountServiceAccountToken") is False, obj["metadata"]["name"]
        for c in containers(obj):
            where = f"{overlay}: {obj['metadata']['name']}/{c['name']}"
            assert c.get("readinessProbe"), f"{where}: no readiness probe"
            if obj["metadata"]["name"] != "shipping":
                assert c.get("livenessProbe"), f"{where}: no liveness probe"
            requests = c.get("resources", {}).get("requests", {})
            assert {"cpu", "memory"} <= set(requests), f"{where}: requests {requests}"
            assert "memory" in c["resources"].get("limits", {}), f"{where}: no memory limit"
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, where


@pytest.mark.parametrize("overlay", ["base", "overlays/dev", "overlays/production"])
def test_the_gateway_is_probed_drained_and_configured(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    deployment = one(objects, "Deployment", "ucp")
    pod = deployment["spec"]["template"]["spec"]
    (ucp,) = pod["containers"]
    assert ucp["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert ucp["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert ucp["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # the registry the pods mount is the ConfigMap this render made, and UCP's model accepts it
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    config_map = one(objects, "ConfigMap", "ucp-config")
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    text = config_map["data"]["ucp.toml"]
    config = registry_config(text, file=f"{overlay} ConfigMap ucp-config")
    assert config.http.host == "0.0.0.0" and config.http.allow_private_networks
    pause = float(ucp["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pause + drain_seconds(text)
    assert pod["affinity"]["podAntiAffinity"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = one(objects, "Service", "ucp")
    assert service["spec"]["selector"].items() <= labels.items()
    assert "sessionAffinity" not in service["spec"] or service["spec"]["sessionAffinity"] == "None"


def test_production_has_the_guards_of_a_shared_service(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["overlays/production"]
    deployment = one(objects, "Deployment", "ucp")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["replicas"] >= 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert (
        anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == "kubernetes.io/hostname"
    )
    (hpa,) = of_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ucp"}
    assert hpa["spec"]["minReplicas"] >= 3 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    (pdb,) = of_kind(objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert (
        pdb["spec"].get("maxUnavailable", 0) >= 1 or pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]
    )
    policies = of_kind(objects, "NetworkPolicy")
    (gateway_policy,) = [
        p for p in policies if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ]
    assert set(gateway_policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert [p["port"] for p in gateway_policy["spec"]["ingress"][0]["ports"]] == [8765]
    egress_ports = {p["port"] for rule in gateway_policy["spec"]["egress"] for p in rule.get("ports", [])}
    assert {53, 6379, 5432, 443} <= egress_ports
    assert {o["metadata"].get("namespace") for o in objects} == {"ucp"}
    # the stores are external: names only, no workload of their own
    assert {s["spec"]["type"] for s in of_kind(objects, "Service") if s["metadata"]["name"] != "ucp"} == {
        "ExternalName"
    }
    assert not of_kind(objects, "StatefulSet")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_rendered_secret_holds_a_value_from_the_repository(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    found = of_kind(objects, "Secret")
    referenced = {
        node["secretKeyRef"]["name"]: node["secretKeyRef"]["key"]
        for node in walk(objects)
        if isinstance(node.get("secretKeyRef"), dict)
    }
    if overlay != "overlays/dev":
        assert not found, f"{overlay} renders a Secret: the operator creates it"
        assert referenced, overlay
        return
    # dev: the one Secret is the generator's, and every value in it is one the operator's file gave
    (secret,) = found
    assert "stringData" not in secret
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == rendered["dev-secret-values"][0]
    refs = {
        node["secretKeyRef"]["key"]
        for node in walk(objects)
        if isinstance(node.get("secretKeyRef"), dict)
        and node["secretKeyRef"]["name"] == secret["metadata"]["name"]
    }
    assert refs == set(SECRET_KEYS) == set(read_env_file(K8S / "overlays" / "dev" / "secrets.env.example"))


def test_dev_does_not_render_until_the_operator_writes_its_secrets(tmp_path: Path) -> None:
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    out = subprocess.run(
        [*kustomize_command(), str(tree / "overlays" / "dev")], capture_output=True, text=True, timeout=120
    )
    assert out.returncode != 0
    assert "secrets.env" in out.stderr and "no such file" in out.stderr


def test_dev_runs_its_stores_in_the_cluster(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["overlays/dev"]
    sets = {o["metadata"]["name"]: o for o in of_kind(objects, "StatefulSet")}
    assert set(sets) == {"redis", "postgres"}
    for name, service in (("redis", "ucp-redis"), ("postgres", "ucp-postgres")):
        svc = one(objects, "Service", service)
        assert svc["spec"]["type"] == "ClusterIP" and "externalName" not in svc["spec"]
        assert svc["spec"]["selector"].items() <= sets[name]["spec"]["template"]["metadata"]["labels"].items()
    assert one(objects, "Deployment", "ucp")["spec"]["replicas"] == 1


def test_the_example_service_registers_through_its_lifecycle_hooks(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    objects = rendered["examples/self-registering-service"]
    deployment = one(objects, "Deployment", "shipping")
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    (c,) = containers(deployment)
    assert c["lifecycle"]["postStart"]["exec"]["command"][-2:] == ["/ucp-hooks/ucp-register.py", "register"]
    assert c["lifecycle"]["preStop"]["exec"]["command"][-2:] == ["/ucp-hooks/ucp-register.py", "deregister"]
    env = {e["name"]: e for e in c["env"]}
    assert env["SERVICE_URL"]["value"] == "http://shipping:8790"  # the Service, not a pod
    assert env["UCP_URL"]["value"] == "http://ucp:8765"
    hooks = one(objects, "ConfigMap", "ucp-hooks")
    script = (K8S / "examples" / "self-registering-service" / "ucp-register.py").read_text()
    assert hooks["data"]["ucp-register.py"] == script
    (volume,) = deployment["spec"]["template"]["spec"]["volumes"]
    assert volume["configMap"]["name"] == hooks["metadata"]["name"]


# ---------------------------------------------------------------- compose and the load balancer
def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_config_validates_and_refuses_to_run_without_secrets(tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        pytest.skip(
            "neither `docker compose` nor docker-compose (Debian) here: make deploy-tools installs it"
        )
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("UCP_")}
    given = {"UCP_API_KEYS": "k1,k2", "UCP_REDIS_PASSWORD": "rp1", "UCP_POSTGRES_PASSWORD": "pp1"}
    empty = tmp_path / "empty.env"  # not an operator's deploy/.env
    empty.write_text("")
    args = [*command, "--env-file", str(empty), "-f", str(DEPLOY / "compose.yaml"), "config"]
    ok = subprocess.run(
        args, capture_output=True, text=True, timeout=120, env={**base_env, **given}, cwd=DEPLOY
    )
    assert ok.returncode == 0, ok.stderr
    config = yaml.safe_load(ok.stdout)
    assert config["services"]["ucp"]["environment"]["UCP_REDIS_URL"] == "redis://:rp1@redis:6379/0"
    assert config["services"]["ucp"]["deploy"]["replicas"] == 3
    for missing in given:
        env = {**base_env, **{k: v for k, v in given.items() if k != missing}}
        out = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, cwd=DEPLOY)
        assert out.returncode != 0 and missing in out.stderr, (missing, out.stderr)


def test_haproxy_accepts_its_config() -> None:
    haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if haproxy is None:
        pytest.skip("haproxy (Debian) is not installed: make services installs it")
    out = subprocess.run(
        [haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Configuration file is valid" in out.stdout + out.stderr


# ---------------------------------------------------------------- the self-registration hook, for real
def hook(action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = K8S / "examples" / "self-registering-service" / "ucp-register.py"
    return subprocess.run(
        [PY, str(script), action], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )


def test_the_hook_registers_and_deregisters_a_service_with_a_real_ucp(tmp_path: Path) -> None:
    """`ucp serve` with a key; a UTCP service that does not register itself; the pod's hooks do."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "ucp.toml").write_text("builtins = false\n")
    ucp_port, service_port = free_port(), free_port()
    ucp_env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_API_KEYS": "deploy-test-key"}
    serve = [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(ucp_port), "--no-dense"]
    service = [PY, str(SERVERS / "utcp_service.py"), "--port", str(service_port)]
    with background(serve, port=ucp_port, env=ucp_env, timeout=60), background(service, port=service_port):
        ucp = f"http://127.0.0.1:{ucp_port}"
        env = {
            "UCP_URL": ucp,
            "UCP_API_KEY": "deploy-test-key",
            "SERVICE_NAME": "weather",
            "SERVICE_URL": f"http://127.0.0.1:{service_port}",
            "SERVICE_TAGS": "weather",
            "UCP_REGISTER_LOG": str(tmp_path / "hook.log"),
            "UCP_REGISTER_TIMEOUT": "5",
        }
        headers = {"Authorization": "Bearer deploy-test-key"}
        done = hook("register", env)
        assert done.returncode == 0 and "HTTP 201" in done.stderr, done.stderr
        listed = httpx2.get(f"{ucp}/registry/services", headers=headers, timeout=10).json()
        assert [s["name"] for s in listed["services"]] == ["weather"]
        again = hook("register", env)  # a restarted pod: idempotent
        assert again.returncode == 0 and "HTTP 200" in again.stderr, again.stderr
        refused = hook("register", {**env, "UCP_API_KEY": "wrong"})
        assert refused.returncode == 1 and "UCP refused (401)" in refused.stderr
        gone = hook("deregister", env)
        assert gone.returncode == 0 and "HTTP 200" in gone.stderr, gone.stderr
        assert httpx2.get(f"{ucp}/registry/services", headers=headers, timeout=10).json()["services"] == []
        assert hook("deregister", env).returncode == 0  # already gone: success
    # UCP not there: the service is not killed for it, the warning reaches the container log
    down = hook("register", {**env, "UCP_REGISTER_TIMEOUT": "1"})
    assert down.returncode == 0 and "UCP unreachable" in down.stderr
    assert "UCP unreachable" in (tmp_path / "hook.log").read_text()
