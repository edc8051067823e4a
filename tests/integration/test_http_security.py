"""HTTP security against a real `ucp serve --transport http`: bearer keys (401 everywhere but
/healthz, /mcp included), refusal to bind beyond loopback without keys, SSRF attempts refused
with stable reasons, oversized bodies refused with 413 — and keyed UTCP clients still work."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import ROOT, background, free_port, venv_bin

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

KEY = "test-key-0123456789"
LIMIT = 4096


@pytest.fixture(scope="module")
def ucp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ucp-secure")
    (home / "ucp.toml").write_text(f"""builtins = false
[http]
max_body_bytes = {LIMIT}

[servers.cli]
type = "utcp"
manual = "{ROOT / "manuals" / "examples" / "cli-tools.utcp.json"}"
allowed_protocols = ["cli"]
""")
    port = free_port()
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_API_KEYS": f"other-key,{KEY}"}
    with background(
        [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"],
        port=port,
        env=env,
        timeout=60,
    ) as proc:
        yield f"http://127.0.0.1:{port}"
        proc.terminate()
        _, err = proc.communicate(timeout=15)
        assert KEY.encode() not in err  # secrets never reach the log


@pytest.fixture
async def authed(ucp_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        base_url=ucp_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as http:
        yield http


async def test_every_route_but_healthz_needs_a_key(ucp_url: str) -> None:
    async with httpx2.AsyncClient(base_url=ucp_url, timeout=30) as http:
        assert (await http.get("/healthz")).status_code == 200
        for method, path in [
            ("POST", "/mcp"),
            ("GET", "/mcp"),
            ("GET", "/api/v1/tools"),
            ("GET", "/utcp"),
            ("POST", "/api/v1/tools/call"),
            ("GET", "/registry/services"),
            ("GET", "/openapi.json"),
            ("POST", "/registry/services"),
            ("GET", "/nowhere"),
        ]:
            resp = await http.request(method, path, headers={"Authorization": "Bearer wrong-key"})
            assert resp.status_code == 401, (method, path)
            assert resp.json()["error"]["code"] == "unauthorized"
            assert (await http.request(method, path)).status_code == 401


async def test_keyed_clients_work(ucp_url: str, authed: httpx2.AsyncClient) -> None:
    tools = (await authed.get("/api/v1/tools")).json()["tools"]
    assert "cli__echo_text" in {t["name"] for t in tools}
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(f"{ucp_url}/mcp", http_client=http), mode="legacy") as client,
    ):
        listed = {t.name for t in (await client.list_tools()).tools}
        assert "cli__echo_text" in listed
        result = await client.call_tool("cli__echo_text", {"text": "over mcp"})
        assert result.content[0].text == "over mcp"  # type: ignore[union-attr]


async def test_keyed_utcp_client_uses_the_manual_auth(ucp_url: str) -> None:
    from utcp.utcp_client import UtcpClient

    client = await UtcpClient.create(
        config={
            "manual_call_templates": [
                {
                    "name": "ucp",
                    "call_template_type": "http",
                    "http_method": "GET",
                    "url": f"{ucp_url}/utcp",
                    "auth": {
                        "auth_type": "api_key",
                        "api_key": "Bearer ${API_KEY}",
                        "var_name": "Authorization",
                        "location": "header",
                    },
                }
            ],
            "variables": {"ucp_API_KEY": KEY},
        }
    )
    try:
        assert await client.call_tool("ucp.cli__echo_text", {"body": {"text": "keyed"}}) == "keyed"
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://10.0.0.1/utcp", "private"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
    ],
)
async def test_ssrf_attempts_are_refused(authed: httpx2.AsyncClient, url: str, reason: str) -> None:
    resp = await authed.post("/registry/services", json={"name": "evil", "manual_url": url})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unsafe_url"
    assert resp.json()["error"]["details"]["reason"] == reason
    assert (await authed.get("/registry/services")).json()["services"] == []


async def test_oversized_bodies_are_refused(authed: httpx2.AsyncClient) -> None:
    big = {"name": "cli__echo_text", "arguments": {"text": "x" * (LIMIT * 2)}}
    resp = await authed.post("/api/v1/tools/call", json=big)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 1024

    streamed = await authed.post("/registry/services", content=chunked())
    assert streamed.status_code == 413
    mcp = await authed.post(
        "/mcp",
        content=b"x" * (LIMIT + 1),
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
    )
    assert mcp.status_code == 413
    ok = await authed.post(
        "/api/v1/tools/call", json={"name": "cli__echo_text", "arguments": {"text": "small"}}
    )
    assert ok.status_code == 200


def test_refuses_to_bind_beyond_loopback_without_keys(tmp_path: Path) -> None:
    env = {**os.environ, "UCP_HOME": str(tmp_path), "UCP_CONFIG": "", "UCP_API_KEYS": ""}
    proc = subprocess.run(
        [venv_bin("ucp"), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "0.0.0.0" in proc.stderr
    assert "API key" in proc.stderr
