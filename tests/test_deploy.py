"""deploy/ in memory: the compose file, the load balancer's config, UCP's registries, the Kubernetes
sources and the self-registration hook parse, agree with each other and carry no working secret.

No process is started here: tests/integration/test_deploy.py renders the Kustomize overlays with
kubectl, validates every object against the Kubernetes schemas and runs `docker compose config` and
`haproxy -c`. This file is what still holds on a machine without those tools.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT
from ucp.config.loader import parse_ucp_toml
from ucp.config.models import Config, HttpSettings
from ucp.errors import ConfigError
from ucp.frontend.http import check_bind
from ucp.identity.authenticator import Authenticator

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
HOOK = K8S / "examples" / "self-registering-service" / "ucp-register.py"
SECRET_WORDS = re.compile(r"KEY|PASSWORD|SECRET|TOKEN|_URL$", re.I)
COMPOSE_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# ---------------------------------------------------------------- helpers (shared with the integration tier)
def registry_config(text: str, *, file: str) -> Config:
    """A deployment's ucp.toml as UCP's config model reads it.

    ``[state]`` and ``[http] drain_s`` belong to the scale-out work landing beside this one: while the
    model of this checkout lacks them they are checked here by hand and dropped before validation,
    and once it has them the whole file goes through the model."""
    data = tomllib.loads(text)
    state = data.get("state", {})
    assert state.get("backend") == "redis", f"{file}: [state] backend must be redis for N replicas"
    for key in ("redis_url", "postgres_url"):
        assert re.fullmatch(r"\$\{[A-Z_]+\}", state.get(key, "")), f"{file}: [state] {key} must be a ${{VAR}}"
    drain = data.get("http", {}).get("drain_s")
    assert isinstance(drain, int | float) and drain > 0, f"{file}: [http] drain_s must be set"
    if "state" not in Config.model_fields:
        data.pop("state")
    if "drain_s" not in HttpSettings.model_fields:
        data["http"].pop("drain_s")
    return parse_ucp_toml(data, file=file)


def drain_seconds(text: str) -> float:
    return float(tomllib.loads(text)["http"]["drain_s"])


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}."""

    def sub(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        have = env.get(name)
        if op in (":?", "?") and (have is None or (op == ":?" and not have)):
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and (have is None or (op == ":-" and not have)):
            return arg
        return have or ""

    return COMPOSE_REF.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


def interpolate_all(data: Any, env: Mapping[str, str]) -> list[str]:
    return [interpolate(value, env) for _path, value in strings(data)]


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a YAML tree, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def read_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ucp_register_hook", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compose() -> dict[str, Any]:
    data = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


# ---------------------------------------------------------------- the image
def test_dockerfile_copies_existing_paths() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (.+) \S+$", text, flags=re.M):
        for part in src.split():
            assert (ROOT / part).exists(), f"Dockerfile copies {part}, which does not exist"
    assert (
        "torch==" not in text
    )  # the default install serves without it (tests/integration/test_lean_install.py)
    assert "/healthz" in text
    assert "USER 1000:1000" in text  # numeric, as the pods' runAsUser


# ---------------------------------------------------------------- compose
def test_compose_runs_three_replicas_on_redis_and_postgres_behind_a_load_balancer() -> None:
    services = compose()["services"]
    assert set(services) == {"ucp", "lb", "redis", "postgres"}
    assert services["ucp"]["deploy"]["replicas"] == 3
    assert "ports" not in services["ucp"], "replicas are reached through the load balancer only"
    assert services["ucp"]["depends_on"] == {
        "redis": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    assert "ucp" in services["lb"]["depends_on"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert service.get("restart") == "unless-stopped", name
    assert "/readyz" in " ".join(services["ucp"]["healthcheck"]["test"])


def test_compose_has_no_default_secret_and_fails_clearly_without_one() -> None:
    data = compose()
    secret_refs: set[str] = set()
    for path, value in strings(data):
        for name, op, _arg in COMPOSE_REF.findall(value):
            if SECRET_WORDS.search(name):
                assert op == ":?", f"{path}: ${{{name}}} must be ${{{name}:?message}} (no default, no empty)"
                secret_refs.add(name)
    assert secret_refs == {"UCP_API_KEYS", "UCP_REDIS_PASSWORD", "UCP_POSTGRES_PASSWORD"}
    env = data["services"]["ucp"]["environment"]
    for key, value in env.items():
        if SECRET_WORDS.search(key):
            assert "${" in value, f"ucp environment {key} holds a literal value"
    # unset (or copied from env.example unchanged, i.e. empty): interpolation refuses, naming the variable
    example = read_env_file(DEPLOY / "env.example")
    assert set(example) >= secret_refs and not any(example[k] for k in secret_refs)
    for missing in secret_refs:
        partial = {k: "x" for k in secret_refs if k != missing}
        with pytest.raises(KeyError, match=missing):
            interpolate_all(data, {**example, **partial})
    # set: every secret lands where it belongs
    given = {"UCP_API_KEYS": "k1,k2", "UCP_REDIS_PASSWORD": "rp", "UCP_POSTGRES_PASSWORD": "pp"}
    resolved = {k: interpolate(v, given) for k, v in env.items()}
    assert resolved["UCP_REDIS_URL"] == "redis://:rp@redis:6379/0"
    assert resolved["UCP_POSTGRES_URL"] == "postgresql://ucp:pp@postgres:5432/ucp"
    assert interpolate(data["services"]["lb"]["ports"][0], given) == "127.0.0.1:8765:8765"
    gitignore = (DEPLOY / ".gitignore").read_text().split()
    assert ".env" in gitignore and "k8s/overlays/*/secrets.env" in gitignore


def test_compose_drain_fits_in_the_stop_grace_period_and_the_registry_validates() -> None:
    text = (DEPLOY / "ucp.toml").read_text()
    config = registry_config(text, file="deploy/ucp.toml")
    assert config.http.host == "0.0.0.0" and config.http.port == 8765
    assert config.http.allow_private_networks
    grace = compose()["services"]["ucp"]["stop_grace_period"]
    assert grace.endswith("s") and float(grace[:-1]) > drain_seconds(text)
    mounts = compose()["services"]["ucp"]["volumes"]
    assert "./ucp.toml:/etc/ucp/ucp.toml:ro" in mounts
    assert compose()["services"]["ucp"]["environment"]["UCP_CONFIG"] == "/etc/ucp/ucp.toml"


def test_haproxy_balances_round_robin_over_ready_replicas() -> None:
    text = (DEPLOY / "haproxy.cfg").read_text()
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    assert "balance roundrobin" in lines
    assert "option httpchk GET /readyz" in lines
    assert "http-check expect status 200" in lines
    # retried elsewhere: refused by a draining replica, or never connected; never a lost response
    assert "retry-on conn-failure 503" in lines
    assert "bind :8765" in lines
    assert not any(line.startswith(("cookie", "stick", "balance source", "hash-type")) for line in lines), (
        "no stickiness: any replica serves any session"
    )
    template = next(line for line in lines if line.startswith("server-template"))
    assert template.split()[-1] == "ucp:8765"  # the compose service, its replicas by Docker DNS
    lb = compose()["services"]["lb"]
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in lb["volumes"]
    assert lb["ports"][0].endswith(":8765")


# ---------------------------------------------------------------- Kubernetes sources
def k8s_documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def test_the_old_single_manifest_with_a_default_key_is_gone() -> None:
    assert not (K8S / "ucp.yaml").exists()
    layout = {p.relative_to(K8S).as_posix() for p in K8S.rglob("kustomization.yaml")}
    assert layout == {
        "base/kustomization.yaml",
        "overlays/dev/kustomization.yaml",
        "overlays/production/kustomization.yaml",
        "examples/self-registering-service/kustomization.yaml",
    }


def test_no_kubernetes_source_carries_a_secret_value() -> None:
    for path, doc in k8s_documents():
        where = path.relative_to(K8S)
        assert doc.get("kind") != "Secret", f"{where}: a Secret in the sources (generate it or create it)"
        for generator in doc.get("secretGenerator", []):
            assert set(generator) <= {"name", "envs", "options", "type"}, (
                f"{where}: secretGenerator {generator['name']} may only read operator-written env files"
            )
            for env_file in generator["envs"]:
                assert (path.parent / f"{env_file}.example").exists(), f"{where}: no {env_file}.example"
        for key_path, value in strings(doc):
            if key_path.endswith(".value") and re.search(r"\$\(|://[^/]*:[^/@]+@", value):
                pytest.fail(f"{where}{key_path}: a credential in a literal env value")


def test_the_example_secrets_file_is_refused_as_it_is() -> None:
    example = read_env_file(K8S / "overlays" / "dev" / "secrets.env.example")
    assert set(example) == {
        "UCP_API_KEYS",
        "UCP_REDIS_PASSWORD",
        "UCP_POSTGRES_PASSWORD",
        "UCP_REDIS_URL",
        "UCP_POSTGRES_URL",
    }
    assert not any(example.values()), "the example must not hold a usable value"
    # UCP, given the example unchanged, has no key, and so refuses to listen beyond loopback
    config = registry_config((K8S / "base" / "ucp.toml").read_text(), file="base/ucp.toml")
    enabled = Authenticator(config.auth, config.http, example).enabled
    assert not enabled
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0"):
        check_bind(config.http.host, enabled)
    assert Authenticator(config.auth, config.http, {**example, "UCP_API_KEYS": "k"}).enabled


def test_the_deployment_drains_within_its_grace_period() -> None:
    deployment = yaml.safe_load((K8S / "base" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = drain_seconds((K8S / "base" / "ucp.toml").read_text())
    assert pod["terminationGracePeriodSeconds"] > pause + drain
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert refs == {"ucp-secrets"}
    assert not any(
        e["valueFrom"]["secretKeyRef"].get("optional") for e in container["env"] if "valueFrom" in e
    )


# ---------------------------------------------------------------- the self-registration hook
class FakeResponse(io.BytesIO):
    status = 201

    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


HOOK_ENV = {
    "UCP_URL": "http://ucp:8765/",
    "UCP_API_KEY": "k",
    "SERVICE_NAME": "shipping",
    "SERVICE_URL": "http://shipping:8790",
    "SERVICE_TAGS": "shipping, parcels,",
    "SERVICE_VERSION": "1.0",
}


def test_hook_builds_the_registry_requests_ucp_serves() -> None:
    hook = load_hook()
    post = hook.build_request("register", HOOK_ENV)
    assert (post.get_method(), post.full_url) == ("POST", "http://ucp:8765/registry/services")
    assert post.get_header("Authorization") == "Bearer k"
    assert json.loads(post.data) == {
        "name": "shipping",
        "base_url": "http://shipping:8790",
        "tags": ["shipping", "parcels"],
        "version": "1.0",
    }
    from ucp.frontend.registry_routes import RegisterRequest

    RegisterRequest.model_validate(json.loads(post.data))  # the body UCP's route accepts
    delete = hook.build_request("deregister", HOOK_ENV)
    assert (delete.get_method(), delete.full_url) == ("DELETE", "http://ucp:8765/registry/services/shipping")
    for broken in ({"UCP_API_KEY": ""}, {"SERVICE_URL": ""}, {"SERVICE_NAME": ""}):
        with pytest.raises(hook.Refused):
            hook.build_request("register", {**HOOK_ENV, **broken})


def test_hook_retries_while_ucp_is_unreachable_and_stops_on_a_refusal() -> None:
    hook = load_hook()
    now = [0.0]
    sent: list[urllib.request.Request] = []
    messages: list[str] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def opener_failing(times: int, error: Exception | None = None) -> Any:
        def opener(request: urllib.request.Request, timeout: float) -> FakeResponse:
            sent.append(request)
            if len(sent) <= times:
                raise error or urllib.error.URLError("connection refused")
            return FakeResponse(b"{}")

        return opener

    def run(action: str, opener: Any, **env: str) -> int:
        sent.clear()
        code: int = hook.run(
            action,
            {**HOOK_ENV, **env},
            opener=opener,
            sleep=sleep,
            clock=lambda: now[0],
            warn=messages.append,
        )
        return code

    assert run("register", opener_failing(3)) == 0 and len(sent) == 4
    assert "HTTP 201" in messages[-1]
    # UCP down past the deadline: the service keeps running, with a warning
    assert run("register", opener_failing(10**6), UCP_REGISTER_TIMEOUT="10") == 0
    assert 3 <= len(sent) <= 8 and "gave up" in messages[-1]
    refused = urllib.error.HTTPError("u", 401, "unauthorized", {}, io.BytesIO(b'{"error":"bad key"}'))  # type: ignore[arg-type]
    assert run("register", opener_failing(1, refused)) == 1 and len(sent) == 1
    assert "401" in messages[-1] and "bad key" in messages[-1]
    gone = urllib.error.HTTPError("u", 404, "not found", {}, io.BytesIO(b""))  # type: ignore[arg-type]
    assert run("deregister", opener_failing(1, gone)) == 0
    assert run("bogus", opener_failing(0)) == 1 and not sent
