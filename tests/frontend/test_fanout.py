"""The fan-out's wire format: a change survives it; a foreign or broken message is ignored; the
publisher tags its own changes so a replica never re-delivers what it published."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from ucp.events import Change, ChangeBus, ChangeKind
from ucp.frontend.fanout import Fanout, decode, encode

pytestmark = pytest.mark.anyio


def test_changes_round_trip() -> None:
    for change in (
        Change.of("*", ChangeKind.TOOLS, ChangeKind.PROMPTS),
        Change("*", frozenset({ChangeKind.TOOLS}), session_id="s1"),
        Change.of("toy", ChangeKind.RESOURCE_UPDATED, uri="toy://info"),
    ):
        decoded = decode(encode(change, "r1"))
        assert decoded == ("r1", change)


def test_broken_messages_are_ignored() -> None:
    assert decode(b"not json") is None
    assert decode(json.dumps({"origin": "r", "server": "*", "kinds": ["nope"]})) is None
    assert decode(json.dumps({"origin": "r", "kinds": ["tools"]})) is None


class _PubSub:
    def __init__(self, hub: _Hub) -> None:
        self.hub = hub
        self.send, self.recv = anyio.create_memory_object_stream[dict[str, Any]](100)

    async def subscribe(self, channel: str) -> None:
        self.hub.subs.append(self)

    async def listen(self) -> Any:
        async for message in self.recv:
            yield message

    async def aclose(self) -> None:
        self.hub.subs.remove(self)
        self.send.close()
        self.recv.close()


class _Hub:
    """Two replicas' Redis clients on one in-memory channel."""

    def __init__(self) -> None:
        self.subs: list[_PubSub] = []

    async def publish(self, channel: str, data: str) -> None:
        for sub in list(self.subs):
            await sub.send.send({"type": "message", "data": data.encode()})

    def pubsub(self) -> _PubSub:
        return _PubSub(self)


async def test_a_change_reaches_the_other_replica_only() -> None:
    hub = _Hub()
    local_a, local_b = ChangeBus(), ChangeBus()
    a, b = Fanout(hub, replica_id="a"), Fanout(hub, replica_id="b")
    heard_a: list[Change] = []
    heard_b: list[Change] = []
    a.remote.subscribe(heard_a.append)
    b.remote.subscribe(heard_b.append)
    async with anyio.create_task_group() as tg:
        await tg.start(a.run, local_a)
        await tg.start(b.run, local_b)
        with anyio.fail_after(5):
            await a.connected.wait()
            await b.connected.wait()
        change = Change("*", frozenset({ChangeKind.TOOLS}), session_id="s1")
        local_a.publish(change)
        with anyio.fail_after(5):
            while not heard_b:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert heard_b == [change] and heard_a == []
