"""Call records and analytics on PostgreSQL: two replicas' calls in one report (usage, timeline,
tools with the shared learned statistics, router performance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import client_for, running_gateway, time_server, toy_server, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ARGS = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Europe/Paris"}


async def test_two_replicas_report_one_set_of_analytics(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    settings: dict[str, Any] = {
        "exposure": {"mode": "search"},
        "learning": {"exploration": False},
        "state": {"backend": "redis", "redis_url": redis_url, "postgres_url": postgres_url},
    }
    servers = [toy_server(), time_server()]
    async with (
        running_gateway(servers, tmp_path / "a", **settings) as a,
        running_gateway(servers, tmp_path / "b", **settings) as b,
    ):
        await wait_until(
            lambda: all(g.learner_sync and g.learner_sync.loaded.is_set() for g in (a, b)), what="load"
        )
        for gw, n in ((a, 2), (b, 3)):
            async with client_for(gw) as client:
                for _ in range(n):
                    await client.call_tool("ucp__search_tools", {"query": "time", "limit": 5})
                    result = await client.call_tool(
                        "ucp__call_tool", {"name": "time__convert_time", "arguments": ARGS}
                    )
                    assert not result.is_error
        await wait_until(lambda: all(not len(g.learner.journal) for g in (a, b) if g.learner), what="pushed")
        for gw in (a, b):
            await anyio.to_thread.run_sync(gw.telemetry.flush)
            await anyio.to_thread.run_sync(gw.learner.save)  # type: ignore[union-attr]
        report = b.telemetry.analytics
        usage = await anyio.to_thread.run_sync(report.usage)
        assert usage["total_calls"] == 5  # A's 2 and B's 3
        timeline = await anyio.to_thread.run_sync(report.timeline)
        assert sum(row["calls"] for row in timeline) == 5
        tools = (await anyio.to_thread.run_sync(report.tools))["tools"]
        convert = next(t for t in tools if t["name"] == "time__convert_time")
        assert convert["calls"] == 5
        assert convert["called_after_search"] == 5  # the shared learned statistics
        perf = await anyio.to_thread.run_sync(report.router_performance)
        assert perf["rankings"] == 5 and perf["hits"] == 5
