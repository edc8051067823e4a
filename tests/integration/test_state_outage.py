"""A Redis outage under a running gateway on shared state: readiness says so, calls and rankings
keep working, learning updates wait in memory and reach Redis when it is back; nothing the
gateway wrote to PostgreSQL is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import client_for, running_gateway, time_server, toy_server, wait_until
from tests.integration.stores import RedisServer
from ucp.state.feedback import PgFeedbackStore
from ucp.state.learning import SharedLearning

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

QUERY = "time"
TARGET = "time__convert_time"
ARGS = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Europe/Paris"}


async def test_learning_is_buffered_through_a_redis_outage(
    tmp_path: Path, redis_url: str, postgres_url: str, redis_server: RedisServer
) -> None:
    settings: dict[str, Any] = {
        "exposure": {"mode": "search"},
        "learning": {"exploration": False},
        "state": {"backend": "redis", "redis_url": redis_url, "postgres_url": postgres_url, "timeout": 0.5},
    }
    async with running_gateway([toy_server(), time_server()], tmp_path / "a", **settings) as gw:
        await wait_until(lambda: gw.learner_sync is not None and gw.learner_sync.loaded.is_set(), what="load")
        sync = gw.learner_sync
        assert sync is not None and (await gw.state.ping()).ok
        redis_server.stop()
        try:
            assert not (await gw.state.ping()).ok  # what /readyz reports
            async with client_for(gw) as client:
                for _ in range(3):  # rankings and calls need no shared state: they keep working
                    found = await client.call_tool("ucp__search_tools", {"query": QUERY, "limit": 5})
                    assert TARGET in [r["name"] for r in found.structured_content["results"]]
                    result = await client.call_tool("ucp__call_tool", {"name": TARGET, "arguments": ARGS})
                    assert not result.is_error
            await wait_until(lambda: sync.failing, timeout=5, what="the push fails")
            assert gw.learner is not None and gw.learner.tools[TARGET].succeeded == 3  # local view
            assert gw.learner.journal.deltas[TARGET]["succeeded"] == 3  # kept for the store
        finally:
            redis_server.start()
        await wait_until(
            lambda: not sync.failing and len(gw.learner.journal) == 0, timeout=10, what="drained"
        )  # type: ignore[union-attr]
        assert (await gw.state.ping()).ok
        shared = await SharedLearning(gw.state).read([TARGET])
        assert shared[TARGET].counts["succeeded"] == 3
        await anyio.to_thread.run_sync(gw.learner.save)  # type: ignore[union-attr]
    events = PgFeedbackStore(postgres_url)
    try:
        assert events.count_events() == 3  # the rankings shown during the outage
    finally:
        events.close()
