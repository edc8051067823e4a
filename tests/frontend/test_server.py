"""The MCP front in memory: capabilities, both protocol eras, list_changed, error mapping."""

from __future__ import annotations

from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import MCPError
from mcp.client.subscriptions import ToolsListChanged

from tests.fakes import FakeTransport, tool
from tests.helpers import client_for, wait_until
from ucp.app import Gateway
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio


def gateway(tmp_path: Path) -> Gateway:
    return Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False)


async def test_legacy_capabilities_and_list_changed_on_new_server(tmp_path: Path) -> None:
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with gateway(tmp_path) as gw:
        gw.pool.add(ServerSpec("a", FakeTransport(tools=[tool("one")])))
        await gw.wait_ready(5)
        async with client_for(gw, message_handler=on_message) as client:
            caps = client.server_capabilities
            assert caps.tools is not None and caps.tools.list_changed is True
            assert caps.prompts is not None and caps.prompts.list_changed is True
            assert [t.name for t in (await client.list_tools()).tools] == ["a__one"]
            gw.pool.add(ServerSpec("b", FakeTransport(tools=[tool("two")])))
            with anyio.fail_after(5):
                await changed.wait()
            assert [t.name for t in (await client.list_tools()).tools] == ["a__one", "b__two"]


async def test_modern_client_gets_changes_on_its_listen_stream(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw:
        gw.pool.add(ServerSpec("a", FakeTransport(tools=[tool("one")])))
        await gw.wait_ready(5)
        async with client_for(gw, mode="auto") as client:
            assert client.protocol_version == "2026-07-28"
            assert [t.name for t in (await client.list_tools()).tools] == ["a__one"]
            async with client.listen(tools_list_changed=True) as sub:
                gw.pool.add(ServerSpec("b", FakeTransport(tools=[tool("two")])))
                with anyio.fail_after(5):
                    async for event in sub:
                        assert isinstance(event, ToolsListChanged)
                        break
            assert "b__two" in [t.name for t in (await client.list_tools()).tools]
            # 2026 requests are not registered as sessions (no per-connection state in that era)
            assert len(gw.sessions) == 0


async def test_errors_map_to_protocol_errors_with_codes(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw:
        gw.pool.add(ServerSpec("a", FakeTransport(tools=[tool("one")])))
        await gw.wait_ready(5)
        async with client_for(gw) as client:
            with pytest.raises(MCPError) as info:
                await client.read_resource("nope://x")
            assert info.value.data["code"] == "unknown_resource"
            with pytest.raises(MCPError) as info2:
                await client.get_prompt("a__nope")
            assert info2.value.data["code"] == "unknown_prompt"


async def test_session_is_per_connection_and_removed_on_close(tmp_path: Path) -> None:
    async with gateway(tmp_path) as gw:
        gw.pool.add(ServerSpec("a", FakeTransport(tools=[tool("one")])))
        await gw.wait_ready(5)
        async with client_for(gw) as client:
            await client.list_tools()
            await client.call_tool("a__one", {})
            sessions = gw.sessions.all()
            assert len(sessions) == 1
            assert sessions[0].history[-1].tool == "a__one"
        await wait_until(lambda: len(gw.sessions) == 0, timeout=5)
