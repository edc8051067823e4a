"""A replica's presence in the shared store: written while it serves, deleted when it drains; a
store that does not answer never stops either."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from ucp.config.models import StateSettings
from ucp.frontend.replica import PRESENCE_TTL_S, Replica
from ucp.session.snapshot import MemorySessionStore
from ucp.state import open_state

pytestmark = pytest.mark.anyio


class _Redis:
    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.data: dict[str, tuple[str, int]] = {}

    async def set(self, key: str, value: str, ex: int) -> None:
        if not self.up:
            raise ConnectionError("down")
        self.data[key] = (value, ex)

    async def delete(self, key: str) -> None:
        if not self.up:
            raise ConnectionError("down")
        self.data.pop(key, None)


async def test_presence_is_kept_alive_then_deregistered() -> None:
    redis = _Redis()
    replica = Replica(
        store=MemorySessionStore(), fanout=None, client=redis, replica_id="r1", presence_key="ns:replica:r1"
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(replica.heartbeat, 0.01)
        await anyio.sleep(0.05)
        assert redis.data["ns:replica:r1"][1] == PRESENCE_TTL_S
        tg.cancel_scope.cancel()
    await replica.deregister()
    assert redis.data == {}


async def test_a_store_outage_neither_stops_the_heartbeat_nor_the_drain() -> None:
    redis = _Redis(up=False)
    replica = Replica(
        store=MemorySessionStore(), fanout=None, client=redis, replica_id="r1", presence_key="k"
    )
    with anyio.move_on_after(0.05):
        await replica.heartbeat(0.01)  # logs and retries
    await replica.deregister()  # logs, returns


def test_on_state_builds_every_key_in_the_namespace() -> None:
    state = open_state(StateSettings(backend="redis", redis_url="redis://127.0.0.1:1/0", namespace="team"))
    replica = Replica.on_state(state, session_ttl_s=120, replica_id="abc")
    store: Any = replica.store
    assert store.prefix == "team:sess:" and store.ttl_s == 120
    assert replica.fanout is not None and replica.fanout.channel == "team:notify"
    assert replica.presence_key == "team:replica:abc"


async def test_the_heartbeat_renews_the_sessions_this_replica_holds() -> None:
    store = MemorySessionStore(ttl_s=0.2)
    await store.save("held", {"id": "held"})
    await store.save("other", {"id": "other"})
    replica = Replica(store=store, fanout=None, client=None, replica_id="r1", held=lambda: ["held"])
    with anyio.move_on_after(0.5):
        await replica.heartbeat(0.05)
    assert await store.load("held") is not None  # renewed while only its stream was open
    assert await store.load("other") is None  # expired: no replica holds it
