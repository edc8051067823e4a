"""Exposure modes: the auto choice, and what each mode lists and does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mcp_types as types
import pytest

from tests.fakes import tool
from ucp.config.models import ExposureSettings
from ucp.session.exposure import choose_mode

S = ExposureSettings()


@pytest.mark.parametrize(
    ("client", "protocol", "size", "expected"),
    [
        ("claude-ai", "2025-06-18", 10, "full"),
        ("claude-ai", "2025-06-18", 31, "search"),
        ("cursor-vscode", "2025-06-18", 200, "search"),
        ("Visual Studio Code", "2025-11-25", 200, "dynamic"),
        ("claude-code", "2025-11-25", 200, "dynamic"),
        ("claude-code", "2026-07-28", 200, "search"),  # 2026 era: the list must not vary per connection
        ("", "2025-11-25", 30, "full"),
    ],
)
def test_auto(client: str, protocol: str, size: int, expected: str) -> None:
    assert choose_mode(S, client, protocol, size) == expected


def test_overrides() -> None:
    assert choose_mode(ExposureSettings(mode="search"), "claude-code", "2025-11-25", 3) == "search"
    per_client = ExposureSettings(client_modes={"cursor": "dynamic"})
    assert choose_mode(per_client, "cursor-vscode", "2025-11-25", 500) == "dynamic"
    assert choose_mode(ExposureSettings(full_threshold=100), "x", "2025-11-25", 99) == "full"


def _gateway_tools(n: int) -> list[types.Tool]:
    return [tool(f"t{i}", f"tool number {i} does thing {i}", x="string") for i in range(n)]


@pytest.mark.anyio
async def test_modes_through_the_gateway(tmp_path: Path) -> None:
    from tests.fakes import FakeTransport
    from tests.helpers import client_for
    from ucp.app import Gateway
    from ucp.config.models import Config
    from ucp.config.paths import Paths
    from ucp.pool.pool import ServerSpec

    transport = FakeTransport(tools=_gateway_tools(40))
    for mode, expect_meta in (("full", False), ("search", True), ("dynamic", True)):
        cfg = Config(builtins=False, exposure=ExposureSettings(mode=mode))
        async with Gateway(cfg, Paths(tmp_path / mode).ensure(), dense=False) as gw:
            gw.pool.add(ServerSpec("f", transport))
            await gw.wait_ready(5)
            changes: list[Any] = []

            async def on_message(message: object, changes: list[Any] = changes) -> None:
                if isinstance(message, types.ToolListChangedNotification):
                    changes.append(message)

            async with client_for(gw, message_handler=on_message) as client:
                names = [t.name for t in (await client.list_tools()).tools]
                assert ("ucp__search_tools" in names) == expect_meta
                if mode == "full":
                    assert len(names) == 40
                    continue
                assert len(names) == 4
                found = await client.call_tool("ucp__search_tools", {"query": "tool number 7", "limit": 3})
                assert found.structured_content is not None
                top = [r["name"] for r in found.structured_content["results"]]
                assert "f__t7" in top
                called = await client.call_tool("ucp__call_tool", {"name": "f__t7", "arguments": {"x": "hi"}})
                assert not called.is_error
                bad = await client.call_tool("ucp__call_tool", {"name": "f__t7", "arguments": {"x": 5}})
                assert bad.is_error and bad.meta["ucp/error"]["field"] == "x"
                missing = await client.call_tool("ucp__call_tool", {"name": "f__t7", "arguments": {}})
                assert missing.is_error and missing.meta["ucp/error"]["field"] == "x"
                described = await client.call_tool("ucp__describe_tool", {"name": "f__t7"})
                assert described.structured_content["input_schema"]["properties"]["x"]["type"] == "string"
                unknown = await client.call_tool("ucp__describe_tool", {"name": "f__t77"})
                assert unknown.is_error and "f__t7" in unknown.meta["ucp/error"]["suggestions"]
                relisted = [t.name for t in (await client.list_tools()).tools]
                if mode == "dynamic":
                    assert "f__t7" in relisted
                    assert changes, "dynamic mode sends list_changed when the working set changes"
                else:
                    assert relisted == names
