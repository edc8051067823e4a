"""The pool as the workers see it: one server's MCP view of a pool connection, in memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, MCPError

from tests.fakes import FakeTransport, tool
from ucp.config.models import PoolSettings
from ucp.downstream.mcp import _map_error
from ucp.errors import DownstreamUnavailableError
from ucp.pool.pool import Pool, ServerSpec
from ucp.pool.share import PoolShare

pytestmark = pytest.mark.anyio

FAST = PoolSettings(backoff_initial=5, backoff_max=5, health_interval=60, acquire_timeout=0.2)


async def test_lists_and_calls_the_pools_connection(tmp_path: Path) -> None:
    transport = FakeTransport(tools=[tool("echo", text="string"), tool("other")])
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("f", transport))
        await pool.wait_initial(5)
        mine: set[Any] = set()
        share = PoolShare(pool, tmp_path, pool.events)
        async with Client(share.server_for("f", mine), mode="legacy") as client:
            listed = await client.list_tools()
            assert [t.name for t in listed.tools] == ["echo", "other"]
            result = await client.call_tool("echo", {"text": "hi"})
            assert not result.is_error
            assert transport.calls == [("echo", {"text": "hi"})]  # the one connection the pool holds
            assert len(mine) == 1  # the worker's session, for list_changed


async def test_a_ucp_error_keeps_its_class_and_code_across_the_socket(tmp_path: Path) -> None:
    transport = FakeTransport()
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("f", transport))
        await pool.wait_initial(5)
        share = PoolShare(pool, tmp_path, pool.events)
        async with Client(share.server_for("f", set()), mode="legacy") as client:
            await client.list_tools()
            transport.drop()  # the downstream went away: the pool says unavailable
            with pytest.raises(MCPError) as caught:
                await client.session.send_request(
                    types.CallToolRequest(params=types.CallToolRequestParams(name="echo", arguments={})),
                    types.CallToolResult,
                )
    mapped = _map_error(caught.value, "f", "tools/call echo")
    assert isinstance(mapped, DownstreamUnavailableError)
    assert mapped.code == "downstream_unavailable"
    assert mapped.details.get("server") == "f"
