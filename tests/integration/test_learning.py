"""Learning in a real UCP session: repeated successful calls of a tool after a search raise its
rank for that search, and the learned state survives a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import client_for, running_gateway, time_server, toy_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

QUERY = "give me back exactly what I typed"
TARGET = "toy__add"


async def _rank_of(client: object, target: str) -> int:
    from mcp import Client

    assert isinstance(client, Client)
    found = await client.call_tool("ucp__search_tools", {"query": QUERY, "limit": 8})
    assert found.structured_content is not None
    names = [r["name"] for r in found.structured_content["results"]]
    return names.index(target) + 1 if target in names else 99


async def test_successful_calls_raise_rank_and_survive_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings: dict[str, Any] = {"exposure": {"mode": "search"}, "learning": {"exploration": False}}
    async with running_gateway([toy_server(), time_server()], home, dense=True, **settings) as gw:
        with anyio.fail_after(240):
            await gw.router.dense_ready_event.wait()
        async with client_for(gw) as client:
            before = await _rank_of(client, TARGET)
            assert before > 1, "the target must not already be first for this query"
            for _ in range(8):
                await _rank_of(client, TARGET)
                result = await client.call_tool(
                    "ucp__call_tool", {"name": TARGET, "arguments": {"a": 1, "b": 2}}
                )
                assert not result.is_error
            after = await _rank_of(client, TARGET)
        assert after < before
        assert after == 1
        assert gw.learner is not None
        assert gw.learner.tools[TARGET].succeeded >= 8
    # a new process would start from the same home: the learned state is on disk
    async with running_gateway([toy_server(), time_server()], home, dense=True, **settings) as gw2:
        with anyio.fail_after(240):
            await gw2.router.dense_ready_event.wait()
        assert gw2.learner is not None
        assert gw2.learner.tools[TARGET].succeeded >= 8
        async with client_for(gw2) as client:
            assert await _rank_of(client, TARGET) == 1
