"""A gateway a team can share, against real parts: a real OpenID provider (``oidc-provider`` from
npm, started here as the company IdP issuing JWTs with groups and a tenant claim), a real
``ucp serve --transport http`` as the OAuth resource server, the MCP SDK client's OAuth support
as the client (authorization code + PKCE + dynamic registration, the browser step driven
headlessly through the IdP's login and consent forms), REST clients with client-credentials
tokens, and ``ucp keys`` / ``ucp audit`` as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from tests.helpers import ROOT, SERVERS, background, free_port, venv_bin
from tests.integration.idp.helpers import browser_login, client_token

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

IDP_SCRIPT = ROOT / "tests" / "integration" / "idp" / "idp.mjs"
ACCESS_TTL = 4
REDIRECT = "http://127.0.0.1:1/callback"  # never listened on: the headless browser stops at it


@dataclass
class Team:
    idp: str
    rogue: str
    ucp: str
    home: Path
    env: dict[str, str]

    @property
    def resource(self) -> str:
        return f"{self.ucp}/mcp"


def _node() -> str:
    node = shutil.which("node")
    if (
        node is None
        or not (ROOT / "tests" / "integration" / "node" / "node_modules" / "oidc-provider").exists()
    ):
        pytest.skip("node and oidc-provider (make node) are needed")
    return node


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    idp_port, rogue_port, port = free_port(), free_port(), free_port()
    idp_env = {
        **os.environ,
        "IDP_PORT": str(idp_port),
        "ROGUE_PORT": str(rogue_port),
        "ACCESS_TTL": str(ACCESS_TTL),
    }
    home = tmp_path_factory.mktemp("team")
    toy = f'type = "stdio"\ncommand = "{sys.executable}"\nargs = ["{SERVERS / "toy_server.py"}"]'
    (home / "ucp.toml").write_text(f"""builtins = false
[exposure]
mode = "search"

[auth]
resource = "http://127.0.0.1:{port}/mcp"
issuer = "http://127.0.0.1:{idp_port}"
leeway = 0
scopes_supported = ["tools:read", "tools:write"]

[policy.roles.dev]
groups = ["eng"]
allow = ["toy__*", "acme_toy__*"]
deny = ["toy__crash"]

[policy.roles.support]
groups = ["support"]
allow = ["toy__add", "globex_toy__*"]

[tenants.acme]
servers = ["acme_*"]

[tenants.globex]
servers = ["globex_*"]

[rate_limits.tools."toy__add"]
rate = 2
per = 3

[servers.toy]
{toy}

[servers.acme_toy]
{toy}

[servers.globex_toy]
{toy}
""")
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_API_KEYS": ""}
    with (
        background([_node(), str(IDP_SCRIPT)], port=idp_port, env=idp_env, timeout=30),
        background(
            [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"],
            port=port,
            env=env,
            timeout=60,
        ),
    ):
        yield Team(
            f"http://127.0.0.1:{idp_port}",
            f"http://127.0.0.1:{rogue_port}",
            f"http://127.0.0.1:{port}",
            home,
            env,
        )


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def oauth(server_url: str, account: str, storage: MemoryStorage) -> OAuthClientProvider:
    result: list[AuthorizationCodeResult] = []

    async def redirect(url: str) -> None:
        result.append(await browser_login(url, account, REDIRECT))

    async def callback() -> AuthorizationCodeResult:
        return result.pop()

    return OAuthClientProvider(
        server_url,
        OAuthClientMetadata(
            client_name=f"{account}'s host",
            redirect_uris=[REDIRECT],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            scope="tools:read tools:write",
        ),
        storage,
        redirect_handler=redirect,
        callback_handler=callback,
    )


@pytest.fixture
async def dana(team: Team) -> AsyncIterator[Client]:
    """dana's host: an MCP client that logs in through the IdP (groups eng, tenant acme)."""
    storage = MemoryStorage()
    async with (
        httpx2.AsyncClient(auth=oauth(team.resource, "dana", storage), timeout=30) as http,
        Client(streamable_http_client(team.resource, http_client=http), mode="legacy") as client,
    ):
        assert storage.tokens is not None and storage.client is not None  # registered, logged in
        yield client


def audit(team: Team, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [venv_bin("ucp"), "audit", "--json", "--limit", "1000", *args],
        env=team.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(x) for x in out.stdout.splitlines()]


def tampered(token: str, other: str) -> str:
    head, _body, sig = token.split(".")
    return f"{head}.{other.split('.')[1]}.{sig}"


async def test_bad_credentials_get_401_and_reach_no_downstream(team: Team) -> None:
    before = len(audit(team, "--event", "call"))
    expired = await client_token(team.idp, "dana", team.resource)
    created = subprocess.run(
        [venv_bin("ucp"), "keys", "create", "--name", "ci", "--role", "dev", "--json"],
        env=team.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    key = json.loads(created.stdout)
    call = {"name": "toy__echo", "arguments": {"text": "x"}}
    async with httpx2.AsyncClient(base_url=team.ucp, timeout=30) as http:
        ok = await http.post(
            "/api/v1/tools/call", json=call, headers={"Authorization": f"Bearer {key['key']}"}
        )
        assert ok.status_code == 200 and not ok.json()["is_error"]
        subprocess.run(
            [venv_bin("ucp"), "keys", "revoke", key["id"]],
            env=team.env,
            check=True,
            timeout=60,
            capture_output=True,
        )
        time.sleep(1.2)  # the running UCP re-reads the key store within a second
        metadata = (await http.get("/.well-known/oauth-protected-resource/mcp")).json()
        assert metadata["resource"] == team.resource and metadata["authorization_servers"] == [team.idp]
        time.sleep(ACCESS_TTL + 1)
        wrong_audience = await client_token(team.idp, "dana", "http://127.0.0.1:9/mcp")
        wrong_issuer = await client_token(team.rogue, "dana", team.resource)
        forged = tampered(
            await client_token(team.idp, "eve", team.resource),
            await client_token(team.idp, "dana", team.resource),
        )
        cases = {
            "missing": None,
            "expired": expired,
            "audience": wrong_audience,
            "issuer": wrong_issuer,
            "signature": forged,
            "revoked_key": key["key"],
        }
        for reason, token in cases.items():
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            for resp in (
                await http.post("/api/v1/tools/call", json=call, headers=headers),
                await http.post(
                    "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers
                ),
            ):
                assert resp.status_code == 401, (reason, resp.text)
                challenge = resp.headers["www-authenticate"]
                assert f'resource_metadata="{team.ucp}/.well-known/oauth-protected-resource/mcp"' in challenge
    calls = audit(team, "--event", "call")
    assert len(calls) == before + 1  # only the call made while the key was valid
    denied = [x["reason"] for x in audit(team, "--event", "auth_denied")]
    for reason in ("missing", "expired", "audience", "issuer", "signature", "revoked_key"):
        assert denied.count(reason) >= 2, (reason, denied)
    assert key["key"] not in (team.home / "audit" / "audit.jsonl").read_text()


async def test_role_a_sees_and_calls_its_tools_through_the_oauth_mcp_client(team: Team, dana: Client) -> None:
    listed = [t.name for t in (await dana.list_tools()).tools]
    assert listed == ["ucp__search_tools", "ucp__describe_tool", "ucp__call_read_only_tool", "ucp__call_tool"]
    found = await dana.call_tool("ucp__search_tools", {"query": "add two numbers echo text", "limit": 20})
    names = {r["name"] for r in (found.structured_content or {})["results"]}
    assert names and all(n.startswith(("toy__", "acme_toy__")) for n in names), names
    assert "toy__crash" not in names and not any(n.startswith("globex_") for n in names)
    added = await dana.call_tool("ucp__call_tool", {"name": "acme_toy__add", "arguments": {"a": 2, "b": 3}})
    assert not added.is_error and "5" in added.content[0].text  # type: ignore[union-attr]
    refused = await dana.call_tool(
        "ucp__call_read_only_tool", {"name": "toy__echo", "arguments": {"text": "x"}}
    )
    assert refused.is_error and (refused.meta or {})["ucp/error"]["code"] == "not_read_only"
    denied = await dana.call_tool("ucp__call_tool", {"name": "toy__crash", "arguments": {}})
    assert denied.is_error and (denied.meta or {})["ucp/error"]["rule"] == "policy.roles.dev.deny"
    with pytest.raises(MCPError) as info:
        await dana.call_tool("toy__crash", {})
    assert "policy.roles.dev.deny" in str(info.value.error.data)
    hidden = await dana.call_tool("ucp__call_tool", {"name": "globex_toy__echo", "arguments": {"text": "x"}})
    assert hidden.is_error and (hidden.meta or {})["ucp/error"]["code"] == "unknown_tool"
    lines = audit(team, "--identity", "dana")
    assert {"call", "denied"} <= {x["event"] for x in lines}
    assert all(x["tenant"] == "acme" and x["via"] == "jwt" for x in lines)


async def test_role_b_is_denied_naming_the_rule_and_tenants_are_isolated(team: Team) -> None:
    rita = {"Authorization": f"Bearer {await client_token(team.idp, 'rita', team.resource)}"}
    eve = {"Authorization": f"Bearer {await client_token(team.idp, 'eve', team.resource)}"}
    async with httpx2.AsyncClient(base_url=team.ucp, timeout=30) as http:
        tools = [t["name"] for t in (await http.get("/api/v1/tools", headers=rita)).json()["tools"]]
        assert tools and set(tools) == {"toy__add", *(t for t in tools if t.startswith("globex_toy__"))}
        assert "globex_toy__echo" in tools
        denied = await http.post(
            "/api/v1/tools/call", json={"name": "toy__echo", "arguments": {"text": "x"}}, headers=rita
        )
        assert (
            denied.status_code == 403
            and denied.json()["error"]["details"]["rule"] == "policy.roles.support.allow"
        )
        other = await http.post(
            "/api/v1/tools/call", json={"name": "acme_toy__echo", "arguments": {"text": "x"}}, headers=rita
        )
        assert (
            other.status_code == 404 and other.json()["error"]["code"] == "unknown_tool"
        )  # same name, other tenant
        own = await http.post(
            "/api/v1/tools/call", json={"name": "globex_toy__echo", "arguments": {"text": "g"}}, headers=rita
        )
        assert own.status_code == 200 and not own.json()["is_error"]
        nobody = await http.post(
            "/api/v1/tools/call", json={"name": "toy__add", "arguments": {"a": 1, "b": 1}}, headers=eve
        )
        assert (
            nobody.status_code == 403 and nobody.json()["error"]["details"]["rule"] == "policy.default_role"
        )
    assert {x["tenant"] for x in audit(team, "--identity", "rita-cli")} == {"globex"}


async def test_rate_limit_trips_and_recovers(team: Team) -> None:
    rita = {"Authorization": f"Bearer {await client_token(team.idp, 'rita', team.resource)}"}
    body = {"name": "toy__add", "arguments": {"a": 1, "b": 2}}
    async with httpx2.AsyncClient(base_url=team.ucp, timeout=30) as http:
        statuses = [
            (await http.post("/api/v1/tools/call", json=body, headers=rita)).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        limited = await http.post("/api/v1/tools/call", json=body, headers=rita)
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
        retry = int(limited.headers["retry-after"])
        assert 1 <= retry <= 3
        time.sleep(retry + 0.2)
        assert (await http.post("/api/v1/tools/call", json=body, headers=rita)).status_code == 200
    limited_lines = audit(team, "--event", "rate_limited", "--tool", "toy__add")
    assert len(limited_lines) >= 2 and limited_lines[0]["rule"] == "rate_limits.tools.'toy__add'"
