"""The per-caller session cap on a real `ucp serve --transport http` with keys from `ucp keys create`:
a caller at the limit gets a clear 429, another caller is unaffected, and ending a session (the MCP
SDK client's DELETE on exit) frees a slot."""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import AsyncExitStack
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import background, free_port, venv_bin

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def create_key(env: dict[str, str], name: str) -> str:
    out = subprocess.run(
        [venv_bin("ucp"), "keys", "create", "--name", name, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return str(json.loads(out.stdout)["key"])


async def test_one_caller_cannot_take_every_session(tmp_path: Path) -> None:
    (tmp_path / "ucp.toml").write_text("builtins = false\n[http]\nmax_sessions_per_identity = 2\n")
    env = {**os.environ, "UCP_HOME": str(tmp_path), "UCP_CONFIG": "", "UCP_API_KEYS": ""}
    alice, bob = create_key(env, "alice"), create_key(env, "bob")
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with background(
        [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"],
        port=port,
        env=env,
        timeout=60,
    ):
        async with AsyncExitStack() as stack:
            for _ in range(2):
                http = await stack.enter_async_context(
                    httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice}"}, timeout=30)
                )
                session = await stack.enter_async_context(
                    Client(streamable_http_client(url, http_client=http), mode="legacy")
                )
                await session.list_tools()
            async with httpx2.AsyncClient(timeout=30) as raw:
                refused = await raw.post(
                    url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {alice}"}
                )
                assert refused.status_code == 429, refused.text
                assert "max_sessions_per_identity" in refused.json()["error"]["message"]
                assert alice not in refused.text
                other = await raw.post(url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {bob}"})
                assert other.status_code == 200 and other.headers["mcp-session-id"]
        # both of alice's clients ended their sessions on exit
        async with httpx2.AsyncClient(timeout=30) as raw:
            again = await raw.post(url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {alice}"})
            assert again.status_code == 200 and again.headers["mcp-session-id"]
