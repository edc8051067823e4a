"""What authentication, policy, rate limits and audit cost per call, over HTTP, in one run.

Three ``ucp serve --transport http`` processes front the same HTTP echo server: one with auth
off, one with OAuth on (a JWT signed by a local RSA key, checked against a JWKS served on
loopback) plus a policy role, an identity rate limit and the audit log, and the same with a
static API key instead of the JWT. The MCP clients stay connected and the rounds interleave
(``proxy._overhead``), so noise hits every variant alike; the table reports p50/p99 and the
p50 added over auth off, measured in the same run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from ucp.bench.proxy import PY, Variant, _overhead, _processes, _spawn, free_port

RESOURCE_PATH = "/mcp"
KEY = "bench-key-0123456789abcdef"


def _jwt_and_jwks(issuer: str, resource: str) -> tuple[str, dict[str, Any]]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {
        **json.loads(RSAAlgorithm.to_jwk(private.public_key())),
        "kid": "bench",
        "alg": "RS256",
        "use": "sig",
    }
    now = int(time.time())
    token = jwt.encode(
        {"iss": issuer, "aud": resource, "sub": "bench", "scope": "bench", "iat": now, "exp": now + 3600},
        private,
        algorithm="RS256",
        headers={"kid": "bench"},
    )
    return token, {"keys": [jwk]}


def _toml(home: Path, data: dict[str, Any]) -> dict[str, str]:
    import tomli_w

    home.mkdir(parents=True, exist_ok=True)
    (home / "ucp.toml").write_text(tomli_w.dumps(data))
    return {
        **os.environ,
        "UCP_HOME": str(home),
        "UCP_CONFIG": str(home / "ucp.toml"),
        "UCP_LOG_LEVEL": "warning",
        "UCP_API_KEYS": KEY,
    }


def _client(url: str, token: str | None) -> Any:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode="legacy")


async def auth_overhead(calls: int, rounds: int, work: Path) -> dict[str, dict[str, float]]:
    async with _processes() as procs:
        p_echo, p_jwks, p_off, p_on = free_port(), free_port(), free_port(), free_port()
        _spawn(procs, [PY, "-m", "ucp.bench.echo_server", "http", str(p_echo)], p_echo)
        issuer = "https://idp.bench.invalid"
        on_url = f"http://127.0.0.1:{p_on}{RESOURCE_PATH}"
        token, jwks = _jwt_and_jwks(issuer, on_url)
        (work / "jwks").mkdir()
        (work / "jwks" / "jwks.json").write_text(json.dumps(jwks))
        _spawn(
            procs,
            [PY, "-m", "http.server", str(p_jwks), "--bind", "127.0.0.1", "--directory", str(work / "jwks")],
            p_jwks,
        )
        servers = {"echo": {"type": "http", "url": f"http://127.0.0.1:{p_echo}/mcp"}}
        base = {"builtins": False, "learning": {"enabled": False}, "servers": servers}
        env_off = _toml(work / "off", {**base, "audit": {"enabled": False}})
        env_off["UCP_API_KEYS"] = ""
        env_on = _toml(
            work / "on",
            {
                **base,
                "auth": {
                    "resource": on_url,
                    "issuer": issuer,
                    "jwks_url": f"http://127.0.0.1:{p_jwks}/jwks.json",
                },
                "policy": {
                    "roles": {"bench": {"scopes": ["bench"], "allow": ["echo__*"]}},
                    "default_role": "bench",
                },
                "rate_limits": {"identity": {"rate": 1e9, "per": 1}},
            },
        )
        for port, env in ((p_off, env_off), (p_on, env_on)):
            cmd = [PY, "-m", "ucp", "serve", "--transport", "http", "--port", str(port), "--no-dense"]
            _spawn(procs, cmd, port, env)
        off_url = f"http://127.0.0.1:{p_off}{RESOURCE_PATH}"
        variants = [
            Variant("auth off", "echo__echo", lambda: _client(off_url, None)),
            Variant("JWT + policy + limits + audit", "echo__echo", lambda: _client(on_url, token)),
            Variant("API key + policy + limits + audit", "echo__echo", lambda: _client(on_url, KEY)),
        ]
        result = await _overhead(variants, calls, rounds)
        audit_lines = sum(1 for _ in (work / "on" / "audit" / "audit.jsonl").open())
    off = result["auth off"]["p50_ms"]
    for row in result.values():
        row["added_p50_ms"] = row["p50_ms"] - off
    result["JWT + policy + limits + audit"]["audit_lines"] = float(audit_lines)
    return result


async def step_costs(n: int, work: Path) -> dict[str, dict[str, float]]:
    """The added steps alone, in process (µs per call): what the HTTP figures hide in their noise."""
    import httpx2

    from ucp.bench.proxy import percentile
    from ucp.config.models import (
        AuthSettings,
        HttpSettings,
        PolicySettings,
        RateLimitSettings,
        RateSettings,
        RoleSettings,
    )
    from ucp.identity.authenticator import Authenticator
    from ucp.identity.tokens import TokenVerifier
    from ucp.policy.audit import AuditLog
    from ucp.policy.limits import RateLimiter
    from ucp.policy.rules import Policy

    issuer, resource = "https://idp.bench.invalid", "http://127.0.0.1:1/mcp"
    token, jwks = _jwt_and_jwks(issuer, resource)
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(lambda _r: httpx2.Response(200, json=jwks)))
    settings = AuthSettings(resource=resource, issuer=issuer, jwks_url="http://jwks.invalid/jwks.json")
    verifier = TokenVerifier(settings, {}, client=client)
    auth = Authenticator(settings, HttpSettings(), {"UCP_API_KEYS": KEY}, tokens=verifier)
    policy = Policy(PolicySettings(roles={"bench": RoleSettings(scopes=("bench",), allow=("echo__*",))}))
    limiter = RateLimiter(RateLimitSettings(identity=RateSettings(rate=1e9, per=1)))
    audit = AuditLog(work / "audit")
    header = f"Bearer {token}"
    identity = await auth.authenticate(header)
    names = ("JWT (cached)", "JWT (first sight)", "API key", "policy", "limits", "audit")
    timings: dict[str, list[float]] = {k: [] for k in names}
    for i in range(n):
        t0 = time.perf_counter()
        await auth.authenticate(header)
        t1 = time.perf_counter()
        verifier._verified.clear()
        await auth.authenticate(header)
        t2 = time.perf_counter()
        await auth.authenticate(f"Bearer {KEY}")
        t3 = time.perf_counter()
        policy.decide(identity, "echo__echo", "echo", read_only=False, arg_bytes=20)
        t4 = time.perf_counter()
        limiter.acquire(identity, "echo__echo")
        t5 = time.perf_counter()
        audit.record(
            "call", identity=identity, session_id="s", tool="echo__echo", duration_ms=1.0, arguments={"i": i}
        )
        t6 = time.perf_counter()
        marks = (t0, t1, t2, t3, t4, t5, t6)
        for k, name in enumerate(names):
            timings[name].append((marks[k + 1] - marks[k]) * 1e6)
    audit.close()
    await client.aclose()
    return {k: {"p50_us": percentile(v, 0.5), "p99_us": percentile(v, 0.99)} for k, v in timings.items()}


def run_auth_bench(*, calls: int = 300, rounds: int = 3) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ucp-bench-auth-") as tmp:
        result = anyio.run(auth_overhead, calls, rounds, Path(tmp))
        (Path(tmp) / "steps").mkdir()
        steps = anyio.run(step_costs, 2000, Path(tmp) / "steps")
    per_call = sum(steps[k]["p50_us"] for k in ("JWT (cached)", "policy", "limits", "audit"))
    return {
        "http": result,
        "steps": steps,
        "added_per_call_us": per_call,
        "calls": calls,
        "rounds": rounds,
        "machine": f"{os.cpu_count()} CPU, {sys.platform}",
    }
