"""Notifications through the MCP front, in memory: a downstream's resources/updated reaches the
sessions that subscribed to that URI (and no other); a working-set change reaches its session only;
list changes reach everyone."""

from __future__ import annotations

from pathlib import Path

import anyio
import mcp_types as types
import pytest

from tests.fakes import FakeTransport, tool
from tests.helpers import client_for, subscribe
from ucp.app import Gateway
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.events import Change, ChangeKind
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio


def _gateway(tmp_path: Path) -> Gateway:
    return Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False)


async def test_resource_update_reaches_the_subscribed_session_only(tmp_path: Path) -> None:
    mine: list[str] = []
    theirs: list[str] = []
    got = anyio.Event()

    async def on_mine(message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            mine.append(str(message.params.uri))
            got.set()

    async def on_theirs(message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            theirs.append(str(message.params.uri))

    transport = FakeTransport(tools=[tool("one")])
    transport.resources = [types.Resource(uri="file:///a.txt", name="a")]
    async with _gateway(tmp_path) as gw:
        gw.pool.add(ServerSpec("s", transport))
        await gw.wait_ready(5)
        async with (
            client_for(gw, message_handler=on_mine) as client,
            client_for(gw, message_handler=on_theirs) as other,
        ):
            await other.list_tools()
            assert [str(r.uri) for r in (await client.list_resources()).resources] == ["file:///a.txt"]
            await subscribe(client, "file:///a.txt")
            assert transport.subscribed == ["file:///a.txt"]  # forwarded to the downstream
            assert transport.events is not None
            transport.events.resource_updated("file:///a.txt")
            with anyio.fail_after(5):
                await got.wait()
            await anyio.sleep(0.1)
            assert mine == ["file:///a.txt"]
            assert theirs == []
            await subscribe(client, unsubscribe=True, uri="file:///a.txt")
            assert transport.subscribed == []
            read = await client.read_resource("file:///a.txt")
            assert read.contents[0].uri == "file:///a.txt"


async def test_unknown_resource_subscription_is_a_clear_error(tmp_path: Path) -> None:
    from mcp import MCPError

    async with _gateway(tmp_path) as gw, client_for(gw) as client:
        with pytest.raises(MCPError) as info:
            await subscribe(client, "file:///nowhere")
        assert info.value.data["code"] == "unknown_resource"


async def test_a_session_change_reaches_that_session_only(tmp_path: Path) -> None:
    counts = {"a": 0, "b": 0}

    def handler(key: str):  # type: ignore[no-untyped-def]
        async def on_message(message: object) -> None:
            if isinstance(message, types.ToolListChangedNotification):
                counts[key] += 1

        return on_message

    async with _gateway(tmp_path) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("one")])))
        await gw.wait_ready(5)
        async with (
            client_for(gw, message_handler=handler("a")) as a,
            client_for(gw, message_handler=handler("b")) as b,
        ):
            await a.list_tools()
            await b.list_tools()
            await anyio.sleep(0.2)
            counts.update(a=0, b=0)
            session_a = next(s for s in gw.sessions.all() if s.history is not None and s.id)
            target = session_a.id
            gw.client_events.publish(Change("ucp", frozenset({ChangeKind.TOOLS}), session_id=target))
            await anyio.sleep(0.3)
            assert sum(counts.values()) == 1
            gw.client_events.publish(Change("*", frozenset({ChangeKind.TOOLS})))
            with anyio.fail_after(5):
                while sum(counts.values()) < 3:
                    await anyio.sleep(0.02)
            assert counts["a"] >= 1 and counts["b"] >= 1


async def test_list_changes_within_the_window_merge_into_one_trailing_notification() -> None:
    from mcp.server.subscriptions import InMemorySubscriptionBus

    from ucp.frontend.notify import Delivery
    from ucp.session.state import Session

    sent: list[str] = []

    class Channel:
        async def send_tool_list_changed(self) -> None:
            sent.append("tools")

        async def send_prompt_list_changed(self) -> None:
            sent.append("prompts")

        async def send_resource_list_changed(self) -> None:
            sent.append("resources")

        async def send_resource_updated(self, uri: str) -> None:
            sent.append(uri)

    delivery = Delivery(InMemorySubscriptionBus(), publish_to_bus=False, dedupe_s=0.2)
    delivery.attach(Session(id="s"), Channel())
    tools = Change.of("*", ChangeKind.TOOLS)
    async with anyio.create_task_group() as tg:
        tg.start_soon(delivery.flush_loop)
        await delivery.deliver(tools)  # this replica heard it
        await delivery.deliver(tools)  # another replica relayed the same (or a new) change
        await delivery.deliver(tools)
        assert sent == ["tools"]
        with anyio.fail_after(2):
            while len(sent) < 2:
                await anyio.sleep(0.02)
        await anyio.sleep(0.3)
        tg.cancel_scope.cancel()
    assert sent == ["tools", "tools"]  # merged, never lost


async def test_a_resource_update_rereads_subscriptions_made_on_another_replica() -> None:
    from mcp.server.subscriptions import InMemorySubscriptionBus

    from ucp.frontend.notify import Delivery
    from ucp.session.state import Session

    sent: list[str] = []

    class Channel:
        async def send_tool_list_changed(self) -> None: ...

        async def send_prompt_list_changed(self) -> None: ...

        async def send_resource_list_changed(self) -> None: ...

        async def send_resource_updated(self, uri: str) -> None:
            sent.append(uri)

    async def refresh(session: Session) -> None:  # the store says: subscribed (on another replica)
        session.subscriptions = {"file:///a.txt"} if session.id == "s1" else set()

    delivery = Delivery(InMemorySubscriptionBus(), publish_to_bus=False, refresh=refresh)
    delivery.attach(Session(id="s1"), Channel())
    delivery.attach(Session(id="s2"), Channel())
    await delivery.deliver(Change.of("srv", ChangeKind.RESOURCE_UPDATED, uri="file:///a.txt"))
    assert sent == ["file:///a.txt"]  # s1 only: this replica's copy did not know it had subscribed
