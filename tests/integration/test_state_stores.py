"""The state handle against real Redis and PostgreSQL: health, namespacing, an outage seen and recovered."""

from __future__ import annotations

import pytest

from tests.integration.stores import RedisServer
from ucp.config.models import StateSettings
from ucp.state import open_state

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_ping_reports_each_store_and_recovers_after_a_redis_restart(
    redis_url: str, postgres_url: str, redis_server: RedisServer
) -> None:
    state = open_state(
        StateSettings(backend="redis", redis_url=redis_url, postgres_url=postgres_url, timeout=1)
    )
    try:
        health = await state.ping()
        assert health.ok, health
        assert health.stores == {"redis": "ok", "postgres": "ok"}
        redis_server.stop()
        down = await state.ping()
        assert not down.ok
        assert down.stores["redis"] != "ok"
        assert down.stores["postgres"] == "ok"
        assert redis_url not in str(down.to_dict())
        redis_server.start()
        assert (await state.ping()).ok
    finally:
        await state.aclose()


async def test_embedded_needs_no_store() -> None:
    state = open_state(StateSettings())
    assert not state.shared
    assert (await state.ping()).ok
