"""SessionFacade: one path for REST, UTCP and the CLI — errors raise, results are values."""

from __future__ import annotations

from pathlib import Path

import mcp_types as types
import pytest

from tests.fakes import FakeTransport, tool
from ucp.app import Gateway
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.errors import InvalidArgumentsError, UnknownPromptError, UnknownSessionError, UnknownToolError
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio


async def test_tools_search_describe_call(tmp_path: Path) -> None:
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", "Echo the text back", text="string")])))
        await gw.wait_ready(5)
        await gw.router.wait_synced()
        api = gw.api
        [view] = api.tools()
        assert (view.name, view.server, view.tool, view.signature) == ("s__echo", "s", "echo", "text: string")
        assert api.tools("other") == []
        session = api.open(client_name="t", transport="rest")
        assert api.get(session.id) is session
        found = await api.search(session, "echo text", limit=3)
        assert [v.name for v in found.tools] == ["s__echo"] and found.tools[0].score is not None
        assert session.history[-1].kind == "search"
        await api.search(session, "echo", record=False)
        assert len(session.history) == 1  # not recorded
        with pytest.raises(InvalidArgumentsError):
            await api.search(session, "   ")
        with pytest.raises(InvalidArgumentsError):
            await api.search(session, "echo", limit=0)
        assert api.describe(session, "s__echo").description == "Echo the text back"
        with pytest.raises(UnknownToolError):
            api.describe(session, "s__nope")
        result = await api.call(session, "s__echo", {"text": "hi"})
        assert not result.is_error
        assert session.last_called == "s__echo" and session.previous_call() is None
        await api.call(session, "s__echo", {"text": "again"})
        assert session.previous_call() == "s__echo"
        assert session.recent_calls(5) == ("s__echo", "s__echo")
        with pytest.raises(InvalidArgumentsError) as info:
            await api.call(session, "s__echo", {"text": 3})
        assert info.value.details["field"] == "text"
        api.add_context(session, "now about echoes")
        assert "echoes" in session.context_text()
        api.close(session.id)
        with pytest.raises(UnknownSessionError):
            api.get(session.id)
        with pytest.raises(UnknownPromptError):
            await api.get_prompt("nope", {})
        empty = await api.complete(types.PromptReference(type="ref/prompt", name="nope"), {"a": "b"}, None)
        assert empty.completion.values == []


async def test_meta_tools_validate_against_their_published_schema(tmp_path: Path) -> None:
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", text="string")])))
        await gw.wait_ready(5)
        session = gw.api.open()
        for name, args, field in (
            ("ucp__search_tools", {"query": "x", "limit": 999}, "limit"),
            ("ucp__search_tools", {"query": "x", "bogus": 1}, "bogus"),
            ("ucp__search_tools", {}, "query"),
            ("ucp__describe_tool", {"name": 5}, "name"),
            ("ucp__call_tool", {"name": "s__echo", "arguments": "not an object"}, "arguments"),
        ):
            result, _ = (
                await gw.meta.search(session, args)
                if name == "ucp__search_tools"
                else (gw.meta.describe(session, args), None)
                if name == "ucp__describe_tool"
                else await gw.meta.call(session, args, None)
            )
            assert result.is_error, (name, args)
            assert result.meta is not None
            assert result.meta["ucp/error"]["code"] == "invalid_arguments"
            assert result.meta["ucp/error"]["field"] == field, (name, args)


async def test_input_schema_is_looked_up_without_listing(tmp_path: Path) -> None:
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", "Echo", text="string")])))
        await gw.wait_ready(5)
        await gw.router.wait_synced()
        schema = gw.api.input_schema("s__echo")
        assert schema is not None and schema["properties"] == {"text": {"type": "string"}}
        search = gw.api.input_schema("ucp__search_tools")
        assert search is not None and "query" in search["properties"]
        assert gw.api.input_schema("s__nope") is None
