"""Session snapshots: everything another replica needs survives the JSON round trip; the in-memory
store expires them; a Redis error becomes ``store_unavailable`` without the URL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ucp.errors import StoreUnavailableError
from ucp.identity import Identity
from ucp.session.snapshot import (
    MemorySessionStore,
    RedisSessionStore,
    apply_snapshot,
    session_from_snapshot,
    snapshot_of,
)
from ucp.session.state import HistoryItem, Session
from ucp.session.working_set import WorkingSet

pytestmark = pytest.mark.anyio


def _session() -> Session:
    s = Session(
        client_name="claude-code", client_version="2.1", protocol_version="2025-11-25", transport="http"
    )
    s.mode = "dynamic"
    s.identity = Identity(
        subject="ana", tenant="t1", via="key", scopes=frozenset({"tools:call"}), key_id="k1"
    )
    s.working_set = WorkingSet(max_tools=3, token_budget=900)
    s.working_set.add_hits([("time__get_current_time", 120, 0.9), ("toy__echo", 80, 0.5)])
    s.working_set.touch_call("toy__echo", 80)
    s.record(HistoryItem(kind="search", at=1.0, text="what time is it", results=("time__get_current_time",)))
    s.record(HistoryItem(kind="call", at=2.0, tool="toy__echo", arguments={"text": "hi"}, outcome="ok"))
    s.subscriptions.add("toy://info")
    s.listed_version = 7
    return s


def test_a_snapshot_round_trips_through_json() -> None:
    original = _session()
    params = {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "c", "version": "1"},
    }
    snapshot = json.loads(json.dumps(snapshot_of(original, params)))
    copy = session_from_snapshot(snapshot)
    assert copy.id == original.id and copy.mode == "dynamic" and copy.protocol_version == "2025-11-25"
    assert copy.identity == original.identity and copy.belongs_to(original.identity)
    assert copy.working_set is not None and original.working_set is not None
    assert copy.working_set.names() == original.working_set.names()
    assert copy.calls() == ["toy__echo"] and copy.context_text() == original.context_text()
    assert list(copy.history)[1].arguments == {"text": "hi"}
    assert copy.subscriptions == {"toy://info"} and copy.listed_version == 7
    assert snapshot["client_params"] == params
    # the working set goes on evolving the same way on the other replica
    copy.working_set.touch_call("time__get_current_time", 120)
    original.working_set.touch_call("time__get_current_time", 120)
    assert copy.working_set.names() == original.working_set.names()


def test_applying_a_snapshot_replaces_a_stale_local_copy() -> None:
    fresh = _session()
    stale = Session(id=fresh.id, transport="http")
    apply_snapshot(stale, snapshot_of(fresh))
    assert stale.calls() == fresh.calls() and stale.mode == fresh.mode
    assert stale.identity.subject == "ana"


async def test_memory_store_saves_loads_deletes_and_expires() -> None:
    store = MemorySessionStore(ttl_s=60)
    snap = snapshot_of(_session())
    await store.save("a", snap)
    assert await store.load("a") == json.loads(json.dumps(snap))
    await store.delete("a")
    assert await store.load("a") is None
    expired = MemorySessionStore(ttl_s=-1)
    await expired.save("b", snap)
    assert await expired.load("b") is None
    assert await store.ping()


class _DownRedis:
    async def get(self, key: str) -> Any:
        raise ConnectionError("Error 111 connecting to redis://:hunter2@10.0.0.1:6379")

    set = delete = get

    async def ping(self) -> bool:
        raise ConnectionError("down")


async def test_a_redis_outage_is_store_unavailable_without_the_url() -> None:
    store = RedisSessionStore(_DownRedis(), ttl_s=60, prefix="ns:sess:")
    for attempt in (store.load("x"), store.save("x", {}), store.delete("x")):
        with pytest.raises(StoreUnavailableError) as caught:
            await attempt
        assert caught.value.code == "store_unavailable"
        assert "hunter2" not in caught.value.message and "10.0.0.1" not in caught.value.message
    assert await store.ping() is False


class _FakeRedis:
    def __init__(self) -> None:
        self.data: dict[str, tuple[str, int]] = {}

    async def get(self, key: str) -> str | None:
        return self.data[key][0] if key in self.data else None

    async def set(self, key: str, value: str, ex: int) -> None:
        self.data[key] = (value, ex)

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)


async def test_redis_store_keys_live_in_the_namespace_with_the_idle_ttl() -> None:
    fake = _FakeRedis()
    store = RedisSessionStore(fake, ttl_s=600, prefix="team:sess:")
    await store.save("abc", {"id": "abc"})
    assert fake.data == {"team:sess:abc": ('{"id": "abc"}', 600)}
    assert await store.load("abc") == {"id": "abc"}
