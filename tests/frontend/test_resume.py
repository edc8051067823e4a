"""Two "replicas" (two gateways, two HTTP apps) in one process, sharing one in-memory session store:
a session opened on A is served on B (its transport rebuilt from the snapshot, no new handshake),
its state written back by B is what A reads next; an unknown id, another identity's id, and a
deleted session answer 404; a store outage answers 503 for a session this replica does not hold.
Raw JSON-RPC over an in-memory ASGI transport (no sockets)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.fakes import FakeTransport, tool
from ucp.app import Gateway
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.frontend.context import Fronts
from ucp.frontend.fanout import Fanout
from ucp.frontend.http import build_http_app
from ucp.frontend.replica import Replica
from ucp.pool.pool import ServerSpec
from ucp.session.snapshot import MemorySessionStore

pytestmark = pytest.mark.anyio

HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
PV = "2025-11-25"


class _NoPubSub:
    async def publish(self, channel: str, data: str) -> None:
        return None


@asynccontextmanager
async def _replicas(tmp_path: Path, store: Any) -> AsyncIterator[list[httpx2.AsyncClient]]:
    async with AsyncExitStack() as stack:
        clients = []
        for name in ("a", "b"):
            gw = await stack.enter_async_context(
                Gateway(
                    Config(builtins=False, exposure={"mode": "dynamic"}),
                    Paths(tmp_path / name).ensure(),
                    dense=False,
                )
            )
            gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", text="string")])))
            await gw.wait_ready(5)
            replica = Replica(store=store, fanout=Fanout(_NoPubSub(), replica_id=name))
            fronts = Fronts(api=gw.api, admin=gw.admin, http=gw.config.http, env={}, replica=replica)
            app = build_http_app(fronts)
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients.append(
                await stack.enter_async_context(
                    httpx2.AsyncClient(
                        transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8765"
                    )
                )
            )
        yield clients


def _result(response: httpx2.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith("data: "):
            message: dict[str, Any] = json.loads(line[6:])
            return message
    raise AssertionError(f"no SSE data in {response.text!r}")


async def _rpc(
    http: httpx2.AsyncClient, sid: str | None, method: str, params: dict[str, Any], rid: int = 1
) -> httpx2.Response:
    headers = dict(HEADERS)
    if sid is not None:
        headers["mcp-session-id"] = sid
        headers["mcp-protocol-version"] = PV
    body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
    return await http.post("/mcp", headers=headers, json=body)


async def _open(http: httpx2.AsyncClient) -> str:
    r = await _rpc(
        http,
        None,
        "initialize",
        {"protocolVersion": PV, "capabilities": {}, "clientInfo": {"name": "claude-code", "version": "1"}},
    )
    assert r.status_code == 200
    sid = r.headers["mcp-session-id"]
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await http.post("/mcp", headers={**HEADERS, "mcp-session-id": sid}, json=note)).status_code == 202
    return sid


def _names(response: httpx2.Response) -> set[str]:
    return {t["name"] for t in _result(response)["result"]["tools"]}


async def test_a_session_opened_on_a_is_served_on_b_and_back(tmp_path: Path) -> None:
    store = MemorySessionStore(ttl_s=600)
    async with _replicas(tmp_path, store) as (a, b):
        sid = await _open(a)
        assert (await store.load(sid)) is not None  # written when initialize was answered
        assert "s__echo" not in _names(await _rpc(b, sid, "tools/list", {}))  # B never saw the handshake
        found = await _rpc(
            b, sid, "tools/call", {"name": "ucp__search_tools", "arguments": {"query": "echo"}}, 2
        )
        assert _result(found)["result"].get("isError") is not True
        assert "s__echo" in _names(await _rpc(a, sid, "tools/list", {}, 3))  # B's working set, read on A
        called = await _rpc(a, sid, "tools/call", {"name": "s__echo", "arguments": {"text": "hi"}}, 4)
        assert _result(called)["result"].get("isError") is not True
        snapshot = await store.load(sid)
        assert (
            snapshot is not None
            and snapshot["client_name"] == "claude-code"
            and snapshot["mode"] == "dynamic"
        )
        assert [h["kind"] for h in snapshot["history"]][-2:] == ["search", "call"]
        # DELETE on B ends it everywhere
        gone = await b.delete("/mcp", headers={**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": PV})
        assert gone.status_code == 200
        assert await store.load(sid) is None
        assert (await _rpc(b, sid, "tools/list", {}, 5)).status_code == 404


async def test_unknown_ids_and_a_store_outage(tmp_path: Path) -> None:
    store = MemorySessionStore(ttl_s=600)
    async with _replicas(tmp_path, store) as (a, b):
        assert (await _rpc(b, "0" * 32, "tools/list", {})).status_code == 404
        sid = await _open(a)
        snapshot = await store.load(sid)
        assert snapshot is not None
        snapshot["identity"]["subject"] = "someone-else"
        await store.save(sid, snapshot)
        assert (await _rpc(b, sid, "tools/list", {})).status_code == 404  # not this caller's session

        sid = await _open(a)

        async def down(session_id: str) -> Any:
            from ucp.errors import StoreUnavailableError

            raise StoreUnavailableError("the shared session store does not answer (ConnectionError)")

        store.load = down  # type: ignore[method-assign]
        r = await _rpc(b, sid, "tools/list", {})
        assert r.status_code == 503 and "store" in r.json()["error"]["message"]
        assert _names(await _rpc(a, sid, "tools/list", {})) >= {"ucp__search_tools"}  # A holds it: local copy
