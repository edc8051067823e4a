"""The router in front of real servers (time, git, memory, everything) with the real embedding
model: search mode finds and calls through the meta-tools; dynamic mode surfaces what was found."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import mcp_types as types
import pytest

from tests.helpers import client_for, node_bin, running_gateway, time_server, venv_bin
from ucp.config.models import StdioServer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _servers(tmp_path: Path) -> list[StdioServer]:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return [
        time_server(),
        StdioServer(name="git", command=venv_bin("mcp-server-git"), args=("-r", str(repo))),
        StdioServer(
            name="memory",
            command=node_bin("mcp-server-memory"),
            env={"MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")},
        ),
        StdioServer(name="everything", command=node_bin("mcp-server-everything"), args=("stdio",)),
    ]


@pytest.mark.parametrize("dense", [False, True], ids=["bm25-while-loading", "hybrid"])
async def test_search_mode_finds_and_calls_the_time_tool(tmp_path: Path, dense: bool) -> None:
    async with running_gateway(
        _servers(tmp_path), tmp_path / "home", dense=dense, exposure={"mode": "search"}
    ) as gw:
        if dense:
            with anyio.fail_after(240):
                await gw.router.dense_ready_event.wait()
        assert len(gw.catalog) > 30
        async with client_for(gw) as client:
            listed = [t.name for t in (await client.list_tools()).tools]
            assert listed == [
                "ucp__search_tools",
                "ucp__describe_tool",
                "ucp__call_read_only_tool",
                "ucp__call_tool",
            ]
            found = await client.call_tool(
                "ucp__search_tools", {"query": "what time is it in Tokyo", "limit": 5}
            )
            assert found.structured_content is not None
            assert found.structured_content["mode"] == ("hybrid" if dense else "bm25")
            top3 = [r["name"] for r in found.structured_content["results"][:3]]
            assert "time__get_current_time" in top3, top3
            called = await client.call_tool(
                "ucp__call_tool", {"name": "time__get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
            )
            assert not called.is_error
            assert called.structured_content is not None
            assert called.structured_content["timezone"] == "Asia/Tokyo"


async def test_dynamic_mode_surfaces_found_tools_with_list_changed(tmp_path: Path) -> None:
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with (
        running_gateway(_servers(tmp_path), tmp_path / "home", exposure={"mode": "dynamic"}) as gw,
        client_for(gw, message_handler=on_message) as client,
    ):
        before = [t.name for t in (await client.list_tools()).tools]
        assert "memory__create_entities" not in before
        found = await client.call_tool(
            "ucp__search_tools", {"query": "store entities in the knowledge graph memory", "limit": 3}
        )
        assert found.structured_content is not None
        names = [r["name"] for r in found.structured_content["results"]]
        assert any(n.startswith("memory__") for n in names), names
        with anyio.fail_after(10):
            await changed.wait()
        after = [t.name for t in (await client.list_tools()).tools]
        assert set(names) <= set(after)
        # a found tool is now first-class: callable by its own name
        entity = {"name": "ucp", "entityType": "project", "observations": ["a gateway"]}
        created = await client.call_tool("memory__create_entities", {"entities": [entity]})
        assert not created.is_error
