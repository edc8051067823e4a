"""Client notifications: changes from the session layer's bus, turned into MCP messages.

One ``Delivery`` per run of the MCP server (the SDK enters the server's lifespan
once per stdio run, once for the HTTP session manager, once per in-memory
client). It knows the handshake-era connections of that run (their captured
``ServerSession`` stays usable after a handler returns: the notification rides
the standalone stream) and consumes the client-facing ``ChangeBus``:

- a list change for everyone -> ``notifications/{tools,resources,prompts}/list_changed``
  to every handshake-era session, and the matching event on the SDK's
  subscription bus for 2026-era ``subscriptions/listen`` streams;
- a change for one session (its dynamic working set) -> ``tools/list_changed`` to it;
- a resource update -> ``notifications/resources/updated`` to the sessions that
  subscribed to that URI, and ``ResourceUpdated`` on the subscription bus.

A client that is gone or slow never holds the others up (each send is bounded).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    PromptsListChanged,
    ResourcesListChanged,
    ResourceUpdated,
    ToolsListChanged,
)

from ucp.events import Change, ChangeBus, ChangeKind
from ucp.log import get_logger
from ucp.session.api import Session

log = get_logger("ucp.frontend.notify")

SEND_TIMEOUT = 5.0


@dataclass
class _Peer:
    session: Session
    channel: ServerSession


@dataclass
class Delivery:
    """The handshake-era sessions of one server run, and the loop that notifies them."""

    bus: InMemorySubscriptionBus
    publish_to_bus: bool
    peers: dict[str, _Peer] = field(default_factory=dict)

    def attach(self, session: Session, channel: ServerSession) -> None:
        self.peers[session.id] = _Peer(session, channel)

    def detach(self, session_id: str) -> None:
        self.peers.pop(session_id, None)

    async def run(self, events: ChangeBus, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        async with events.stream() as changes:
            task_status.started()
            async for change in changes:
                await self.deliver(change)

    async def deliver(self, change: Change) -> None:
        uri = change.uri
        if uri is not None:
            targets = [p for p in self.peers.values() if uri in p.session.subscriptions]

            async def updated(channel: ServerSession) -> None:
                await channel.send_resource_updated(uri)

            for target in targets:
                await self._send(target, updated)
            if self.publish_to_bus:
                await self.bus.publish(ResourceUpdated(uri=uri))
            return
        if change.session_id is not None:
            one = self.peers.get(change.session_id)
            if one is not None and change.has(ChangeKind.TOOLS):
                await self._send(one, ServerSession.send_tool_list_changed)
            return
        for peer in list(self.peers.values()):
            if change.has(ChangeKind.TOOLS):
                await self._send(peer, ServerSession.send_tool_list_changed)
            if change.has(ChangeKind.PROMPTS):
                await self._send(peer, ServerSession.send_prompt_list_changed)
            if change.has(ChangeKind.RESOURCES):
                await self._send(peer, ServerSession.send_resource_list_changed)
        if self.publish_to_bus:
            if change.has(ChangeKind.TOOLS):
                await self.bus.publish(ToolsListChanged())
            if change.has(ChangeKind.PROMPTS):
                await self.bus.publish(PromptsListChanged())
            if change.has(ChangeKind.RESOURCES):
                await self.bus.publish(ResourcesListChanged())

    async def _send(self, peer: _Peer, send: Callable[[ServerSession], Awaitable[None]]) -> None:
        try:
            with anyio.move_on_after(SEND_TIMEOUT):
                await send(peer.channel)
        except Exception as exc:  # a gone client must not stop the others
            log.debug("notify_failed", session_id=peer.session.id, error=repr(exc)[:200])


class Notifier:
    """Creates a ``Delivery`` per server run (the server's lifespan); the first live one also
    feeds the SDK's subscription bus, so 2026-era streams hear each change once."""

    def __init__(self, events: ChangeBus) -> None:
        self.events = events
        self.bus = InMemorySubscriptionBus()
        self._live: list[Delivery] = []

    @asynccontextmanager
    async def lifespan(self, _server: Any) -> AsyncIterator[Delivery]:
        delivery = Delivery(self.bus, publish_to_bus=not self._live)
        self._live.append(delivery)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(delivery.run, self.events)
                yield delivery
                tg.cancel_scope.cancel()
        finally:
            self._live.remove(delivery)
            if delivery.publish_to_bus and self._live:
                self._live[0].publish_to_bus = True
