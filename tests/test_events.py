"""The change bus: typed events, synchronous handlers in order, bounded async streams."""

from __future__ import annotations

import anyio
import pytest

from ucp.events import LISTS, Change, ChangeBus, ChangeKind

pytestmark = pytest.mark.anyio


def test_change_is_typed_and_checked() -> None:
    change = Change.of("s", "tools", ChangeKind.STATE)
    assert change.kinds == frozenset({ChangeKind.TOOLS, ChangeKind.STATE})
    assert change.has(ChangeKind.TOOLS) and not change.has(ChangeKind.PROMPTS)
    with pytest.raises(ValueError):
        Change.of("s", "no-such-kind")
    with pytest.raises(ValueError):
        Change("s", frozenset())
    with pytest.raises(ValueError):
        Change.of("s", ChangeKind.RESOURCE_UPDATED)  # needs its URI
    with pytest.raises(ValueError):
        Change.of("s", ChangeKind.TOOLS, uri="file:///x")  # only resource updates carry one
    assert Change.of("s", ChangeKind.RESOURCE_UPDATED, uri="file:///x").uri == "file:///x"
    assert frozenset({ChangeKind.TOOLS, ChangeKind.RESOURCES, ChangeKind.PROMPTS}) == LISTS


def test_handlers_run_in_order_and_a_failing_one_is_skipped() -> None:
    bus = ChangeBus()
    seen: list[str] = []

    def broken(change: Change) -> None:
        raise RuntimeError("bug")

    bus.subscribe(lambda c: seen.append("first:" + c.server))
    bus.subscribe(broken)
    unsubscribe = bus.subscribe(lambda c: seen.append("third:" + c.server))
    bus.publish(Change.of("a", ChangeKind.TOOLS))
    unsubscribe()
    unsubscribe()  # twice is harmless
    bus.publish(Change.of("b", ChangeKind.TOOLS))
    assert seen == ["first:a", "third:a", "first:b"]


async def test_streams_get_every_change_and_a_slow_one_never_blocks() -> None:
    bus = ChangeBus(buffer=2)
    async with bus.stream() as fast, bus.stream() as slow:
        for i in range(3):
            bus.publish(Change.of(f"s{i}", ChangeKind.STATE))
        got = [(await fast.receive()).server for _ in range(2)]
        assert got == ["s0", "s1"]
        assert [(await slow.receive()).server for _ in range(2)] == ["s0", "s1"]
        with anyio.move_on_after(0.05) as scope:
            await slow.receive()  # the third did not fit: dropped, not blocking the publisher
        assert scope.cancelled_caught
    bus.publish(Change.of("after", ChangeKind.STATE))  # no open stream: nothing to deliver, no error
