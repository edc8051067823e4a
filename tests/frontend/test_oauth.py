"""UCP as an OAuth resource server over HTTP: metadata, 401 challenges, policy and limits per token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from tests.fakes import FakeTransport, tool
from tests.identity.issuer import ISSUER, RESOURCE, Issuer
from ucp.app import Gateway
from ucp.config.models import (
    AuthSettings,
    Config,
    PolicySettings,
    RateLimitSettings,
    RateSettings,
    RoleSettings,
)
from ucp.config.paths import Paths
from ucp.frontend.context import Fronts
from ucp.frontend.http import build_http_app
from ucp.identity.authenticator import Authenticator
from ucp.identity.keys import KeyFile
from ucp.identity.tokens import TokenVerifier
from ucp.policy.audit import read
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio

AUTH = AuthSettings(resource=RESOURCE, issuer=ISSUER, scopes_supported=("tools:read",))
CONFIG = Config(
    builtins=False,
    auth=AUTH,
    policy=PolicySettings(roles={"dev": RoleSettings(allow=("git__status",), groups=("eng",))}),
    rate_limits=RateLimitSettings(identity=RateSettings(rate=2, per=60)),
)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, Issuer, FakeTransport, Gateway]]:
    issuer = Issuer()
    fake = FakeTransport("git", [tool("status", "Status"), tool("reset", "Reset")])
    async with Gateway(CONFIG, Paths(tmp_path).ensure(), dense=False) as gw:
        gw.pool.add(ServerSpec("git", fake))
        await gw.wait_ready(5)
        base = gw.fronts()
        auth = Authenticator(
            AUTH,
            CONFIG.http,
            {},
            key_file=gw.paths.keys,
            tokens=TokenVerifier(AUTH, {}, client=issuer.client()),
        )
        fronts = Fronts(
            api=base.api,
            admin=base.admin,
            http=base.http,
            env={},
            auth=auth,
            on_auth_denied=base.on_auth_denied,
            may_administer=base.may_administer,
            on_admin=base.on_admin,
        )
        app = build_http_app(fronts, host="0.0.0.0")
        async with (
            app.router.lifespan_context(app),
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="https://ucp.test") as http,
        ):
            yield http, issuer, fake, gw


def tampered(issuer: Issuer) -> str:
    """A valid token whose claims were swapped for more powerful ones (the signature no longer matches)."""
    head, _body, sig = issuer.mint(sub="eve").split(".")
    _h, body, _s = issuer.mint(sub="admin", groups=["eng"]).split(".")
    return f"{head}.{body}.{sig}"


async def test_protected_resource_metadata_and_the_challenge(setup: tuple) -> None:  # type: ignore[type-arg]
    http, issuer, fake, gw = setup
    for path in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"):
        doc = (await http.get(path)).json()
        assert doc["resource"] == RESOURCE and doc["authorization_servers"] == [ISSUER]
        assert doc["scopes_supported"] == ["tools:read"]
    missing = await http.post("/api/v1/tools/call", json={"name": "git__status"})
    assert missing.status_code == 401
    challenge = missing.headers["www-authenticate"]
    assert 'resource_metadata="https://ucp.test/.well-known/oauth-protected-resource/mcp"' in challenge
    assert "error=" not in challenge
    for token, reason in (
        (issuer.mint(ttl=-100, groups=["eng"]), "expired"),
        (issuer.mint(aud="https://elsewhere.test/mcp", groups=["eng"]), "audience"),
        (issuer.mint(iss="https://evil.test", groups=["eng"]), "issuer"),
        (tampered(issuer), "signature"),
    ):
        resp = await http.post(
            "/api/v1/tools/call", json={"name": "git__status"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 401, reason
        assert 'error="invalid_token"' in resp.headers["www-authenticate"]
        mcp = await http.post("/mcp", json={}, headers={"Authorization": f"Bearer {token}"})
        assert mcp.status_code == 401
    assert fake.calls == []  # nothing reached the downstream
    reasons = [x["reason"] for x in read(gw.paths.audit_dir, event="auth_denied")]
    assert reasons == [
        "missing",
        "expired",
        "expired",
        "audience",
        "audience",
        "issuer",
        "issuer",
        "signature",
        "signature",
    ]


async def test_a_valid_token_gets_its_policy_and_its_limits(setup: tuple) -> None:  # type: ignore[type-arg]
    http, issuer, fake, _gw = setup
    headers = {"Authorization": f"Bearer {issuer.mint(sub='dana', groups=['eng'])}"}
    listed = (await http.get("/api/v1/tools", headers=headers)).json()
    assert [t["name"] for t in listed["tools"]] == ["git__status"]
    denied = await http.post("/api/v1/tools/call", json={"name": "git__reset"}, headers=headers)
    assert denied.status_code == 403
    assert denied.json()["error"]["details"]["rule"] == "policy.roles.dev.allow"
    utcp = (await http.get("/utcp", headers=headers)).json()
    assert [t["name"] for t in utcp["tools"]] == ["git__status"]
    for _ in range(2):
        ok = await http.post("/api/v1/tools/call", json={"name": "git__status"}, headers=headers)
        assert ok.status_code == 200 and not ok.json()["is_error"]
    limited = await http.post("/utcp/tools/git__status", json={}, headers=headers)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    assert limited.json()["error"]["code"] == "rate_limited"
    assert fake.calls == [("status", {}), ("status", {})]
    session = (await http.post("/api/v1/sessions", json={}, headers=headers)).json()
    assert session["identity"] == "dana"
    other = {"Authorization": f"Bearer {issuer.mint(sub='eve', groups=['eng'])}"}
    assert (await http.get(f"/api/v1/sessions/{session['id']}", headers=other)).status_code == 404


async def test_api_keys_work_alongside_and_a_revoked_key_is_refused(
    setup: tuple,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    http, _issuer, fake, gw = setup
    monkeypatch.setattr("ucp.identity.keys.RELOAD_SECONDS", 0.0)  # re-read the store at every request
    store = KeyFile(gw.paths.keys)
    plain, record = store.create(subject="ci", roles=("dev",))
    headers = {"Authorization": f"Bearer {plain}"}
    assert (await http.get("/api/v1/tools", headers=headers)).status_code == 200
    store.revoke(record.id)
    refused = await http.post("/api/v1/tools/call", json={"name": "git__status"}, headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]
    assert fake.calls == []


async def test_changing_the_service_registry_needs_an_admin_role(setup: tuple) -> None:  # type: ignore[type-arg]
    http, issuer, _fake, gw = setup
    headers = {"Authorization": f"Bearer {issuer.mint(sub='dana', groups=['eng'])}"}
    body = {"name": "svc", "manual_url": "http://127.0.0.1:9/utcp"}
    refused = await http.post("/registry/services", json=body, headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["details"]["rule"] == "policy.roles.admin"
    assert (await http.delete("/registry/services/svc", headers=headers)).status_code == 403
    assert (await http.get("/registry/services", headers=headers)).status_code == 200  # reading is fine
    admin = list(read(gw.paths.audit_dir, event="admin"))
    assert [(x["action"], x["identity"], x["outcome"]) for x in admin] == [
        ("service_registered", "dana", "denied"),
        ("service_deregistered", "dana", "denied"),
    ]


async def test_an_mcp_session_id_is_refused_with_another_identitys_token(setup: tuple) -> None:  # type: ignore[type-arg]
    http, issuer, _fake, _gw = setup
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    dana = {**accept, "Authorization": f"Bearer {issuer.mint(sub='dana', groups=['eng'])}"}
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    opened = await http.post("/mcp", json=init, headers=dana)
    assert opened.status_code == 200, opened.text
    sid = opened.headers["mcp-session-id"]
    await http.post(
        "/mcp",
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers={**dana, "mcp-session-id": sid},
    )
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    mine = await http.post("/mcp", json=listing, headers={**dana, "mcp-session-id": sid})
    assert "git__status" in mine.text
    eve = {
        **accept,
        "Authorization": f"Bearer {issuer.mint(sub='eve', groups=['eng'])}",
        "mcp-session-id": sid,
    }
    stolen = await http.post("/mcp", json=listing, headers=eve)
    assert "unknown_session" in stolen.text and "git__status" not in stolen.text
