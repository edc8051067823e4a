"""The gateway core against a real MCP server process (the toy server) and a lying raw one."""

from __future__ import annotations

from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp import MCPError

from tests.helpers import bad_server, client_for, running_gateway, toy_server, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_list_and_call_structured(tmp_path: Path) -> None:
    async with running_gateway([toy_server()], tmp_path) as gw, client_for(gw) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert {"toy__echo", "toy__add", "toy__slow"} <= set(names)
        result = await client.call_tool("toy__add", {"a": 2, "b": 40})
        assert not result.is_error
        assert result.structured_content == {"result": 42}


async def test_unknown_tool_suggests_near_matches(tmp_path: Path) -> None:
    async with running_gateway([toy_server()], tmp_path) as gw, client_for(gw) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("toy__ech", {"text": "x"})
        assert info.value.code == -32602
        assert info.value.data["code"] == "unknown_tool"
        assert "toy__echo" in info.value.data["suggestions"]


async def test_timeout_gives_is_error_naming_server(tmp_path: Path) -> None:
    async with running_gateway([toy_server(timeout=0.5)], tmp_path) as gw, client_for(gw) as client:
        result = await client.call_tool("toy__slow", {"seconds": 5})
        assert result.is_error
        assert result.meta["ucp/error"]["code"] == "downstream_timeout"
        assert result.meta["ucp/error"]["server"] == "toy"
        # the server is still usable afterwards
        ok = await client.call_tool("toy__echo", {"text": "still here"})
        assert not ok.is_error


async def test_progress_is_relayed(tmp_path: Path) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with running_gateway([toy_server()], tmp_path) as gw, client_for(gw) as client:
        result = await client.call_tool("toy__progress", {"steps": 4}, progress_callback=on_progress)
        assert not result.is_error
    assert [p for p, _, _ in seen] == [1, 2, 3, 4]
    assert all(t == 4 for _, t, _ in seen)


async def test_crash_restart_and_list_changed(tmp_path: Path) -> None:
    changes = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changes.set()

    async with (
        running_gateway([toy_server()], tmp_path, pool={"backoff_initial": 0.1, "backoff_max": 0.5}) as gw,
        client_for(gw, message_handler=on_message) as client,
    ):
        await client.list_tools()
        crashed = await client.call_tool("toy__crash", {})
        assert crashed.is_error
        assert crashed.meta["ucp/error"]["server"] == "toy"
        # during the outage, calls name the server and its state
        during = await client.call_tool("toy__echo", {"text": "x"})
        if during.is_error:
            assert during.meta["ucp/error"]["code"] == "downstream_unavailable"
            assert "toy" in during.content[0].text
        await wait_until(
            lambda: gw.pool.connections["toy"].healthy and gw.pool.connections["toy"].restarts >= 1
        )
        after = await client.call_tool("toy__echo", {"text": "back"})
        assert not after.is_error
        assert after.content[0].text == "back"
        with anyio.fail_after(10):
            await changes.wait()


async def test_downstream_list_changed_reaches_client(tmp_path: Path) -> None:
    changes = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changes.set()

    async with (
        running_gateway([toy_server()], tmp_path) as gw,
        client_for(gw, message_handler=on_message) as client,
    ):
        await client.list_tools()
        await client.call_tool("toy__grow", {"name": "fresh_tool"})
        with anyio.fail_after(10):
            await changes.wait()
        names = [t.name for t in (await client.list_tools()).tools]
        assert "toy__fresh_tool" in names


async def test_malformed_schemas_do_not_break_listing_or_calls(tmp_path: Path) -> None:
    async with running_gateway([bad_server(), toy_server()], tmp_path) as gw, client_for(gw) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        # the bad server's repairable tools are listed, the nameless one is dropped, the toy's are intact
        assert {"bad__good", "bad__empty_schema", "bad__string_schema", "bad__array_props"} <= set(tools)
        assert tools["bad__empty_schema"].input_schema["type"] == "object"
        assert "toy__echo" in tools
        # a result that does not match its output schema is passed through, not turned into a failure
        result = await client.session.send_request(
            types.CallToolRequest(params=types.CallToolRequestParams(name="bad__good", arguments={})),
            types.CallToolResult,
        )
        assert not result.is_error
        assert result.structured_content == {"n": "many"}
        # ...and the schema it broke is withdrawn from the listing, so strict clients keep working
        await wait_until(lambda: gw.catalog.entries["bad__good"].tool.output_schema is None)
        relisted = {t.name: t for t in (await client.list_tools()).tools}
        assert relisted["bad__good"].output_schema is None
        again = await client.call_tool("bad__good", {})
        assert again.structured_content == {"n": "many"}


async def test_resources_and_prompts_are_forwarded(tmp_path: Path) -> None:
    async with running_gateway([toy_server()], tmp_path) as gw, client_for(gw) as client:
        resources = (await client.list_resources()).resources
        assert [str(r.uri) for r in resources] == ["toy://info"]
        read = await client.read_resource("toy://info")
        assert read.contents[0].text == "toy server info"
        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["toy__greet"]
        got = await client.get_prompt("toy__greet", {"name": "Ada"})
        assert "Hello, Ada!" in got.messages[0].content.text


async def test_a_server_that_cannot_start_does_not_stop_the_others(tmp_path: Path) -> None:
    from ucp.config.models import StdioServer

    broken = StdioServer(name="broken", command="/nonexistent/definitely-not-here")
    async with running_gateway([broken, toy_server()], tmp_path) as gw, client_for(gw) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert "toy__echo" in names
        status = {s.name: s for s in gw.pool.status()}
        assert status["broken"].state == "failed"
        assert status["broken"].last_error


async def test_client_cancellation_reaches_the_downstream(tmp_path: Path) -> None:
    """The upstream client gives up (its timeout sends notifications/cancelled to UCP); UCP cancels
    its downstream call, and the SDK tells the toy server, whose tool records the cancellation."""
    marker = tmp_path / "cancelled.log"
    toy = toy_server(env={"TOY_CANCEL_LOG": str(marker)})
    async with running_gateway([toy], tmp_path) as gw, client_for(gw) as client:
        with pytest.raises(MCPError) as info:
            await client.call_tool("toy__slow", {"seconds": 30}, read_timeout_seconds=0.5)
        assert info.value.code == -32001  # the client's own timeout
        await wait_until(lambda: marker.exists() and "cancelled" in marker.read_text(), timeout=10)
        ok = await client.call_tool("toy__echo", {"text": "after"})
        assert not ok.is_error
