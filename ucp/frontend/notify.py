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

Several replicas (``ucp.frontend.fanout``): a second stream, ``remote``, carries the changes
other replicas published; each is delivered here like a local one, to the sessions whose
connection this replica holds. A session's resource subscriptions are then re-read from the
shared store before a resource update is matched (the subscribe may have landed elsewhere),
and list changes for everyone are collapsed per ``dedupe_s`` (every replica hears a shared
downstream's list change on its own connection, and relays it too): the first is delivered at
once, later ones within the window become one trailing notification at its end, so a change is
never lost, only merged.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
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

EVERYONE = "*"  # the server name of a list change for every client (as ``ucp.session.sync`` sends it)

SEND_TIMEOUT = 5.0


class Channel(Protocol):
    """Where a session's notifications go: a handler's captured ``ServerSession``, or the SDK
    ``Connection`` of a session this replica resumed (both send on the standalone stream)."""

    async def send_tool_list_changed(self) -> None: ...

    async def send_prompt_list_changed(self) -> None: ...

    async def send_resource_list_changed(self) -> None: ...

    async def send_resource_updated(self, uri: str) -> None: ...


async def _tools(channel: Channel) -> None:
    await channel.send_tool_list_changed()


async def _prompts(channel: Channel) -> None:
    await channel.send_prompt_list_changed()


async def _resources(channel: Channel) -> None:
    await channel.send_resource_list_changed()


@dataclass
class _Peer:
    session: Session
    channel: Channel


@dataclass
class Delivery:
    """The handshake-era sessions of one server run, and the loop that notifies them."""

    bus: InMemorySubscriptionBus
    publish_to_bus: bool
    peers: dict[str, _Peer] = field(default_factory=dict)
    refresh: Callable[[Session], Awaitable[None]] | None = None  # re-read a session's subscriptions
    dedupe_s: float = 0.0
    _recent: dict[frozenset[ChangeKind], float] = field(default_factory=dict)
    _pending: set[frozenset[ChangeKind]] = field(default_factory=set)

    def attach(self, session: Session, channel: Channel) -> None:
        self.peers[session.id] = _Peer(session, channel)

    def detach(self, session_id: str) -> None:
        self.peers.pop(session_id, None)

    async def run(self, events: ChangeBus, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        async with events.stream() as changes:
            task_status.started()
            async for change in changes:
                await self.deliver(change)

    def _duplicate(self, change: Change) -> bool:
        if self.dedupe_s <= 0:
            return False
        now = time.monotonic()
        last = self._recent.get(change.kinds)
        if last is not None and now - last < self.dedupe_s:
            self._pending.add(change.kinds)  # delivered once at the window's end (flush_loop)
            return True
        self._recent[change.kinds] = now
        return False

    async def flush_loop(self) -> None:
        """Deliver the merged list changes whose window has passed."""
        while True:
            await anyio.sleep(self.dedupe_s / 4)
            now = time.monotonic()
            for kinds in list(self._pending):
                if now - self._recent.get(kinds, 0.0) >= self.dedupe_s:
                    self._pending.discard(kinds)
                    await self.deliver(Change(EVERYONE, kinds))

    async def deliver(self, change: Change) -> None:
        uri = change.uri
        if uri is not None:
            if self.refresh is not None:
                for peer in list(self.peers.values()):
                    try:
                        await self.refresh(peer.session)
                    except Exception as exc:  # the store is down: match on what this replica knows
                        log.debug("subscriptions_not_refreshed", session_id=peer.session.id, error=repr(exc))
            targets = [p for p in self.peers.values() if uri in p.session.subscriptions]

            async def updated(channel: Channel) -> None:
                await channel.send_resource_updated(uri)

            for target in targets:
                await self._send(target, updated)
            if self.publish_to_bus:
                await self.bus.publish(ResourceUpdated(uri=uri))
            return
        if change.session_id is not None:
            one = self.peers.get(change.session_id)
            if one is not None and change.has(ChangeKind.TOOLS):
                await self._send(one, _tools)
            return
        if self._duplicate(change):
            return
        for peer in list(self.peers.values()):
            if change.has(ChangeKind.TOOLS):
                await self._send(peer, _tools)
            if change.has(ChangeKind.PROMPTS):
                await self._send(peer, _prompts)
            if change.has(ChangeKind.RESOURCES):
                await self._send(peer, _resources)
        if self.publish_to_bus:
            if change.has(ChangeKind.TOOLS):
                await self.bus.publish(ToolsListChanged())
            if change.has(ChangeKind.PROMPTS):
                await self.bus.publish(PromptsListChanged())
            if change.has(ChangeKind.RESOURCES):
                await self.bus.publish(ResourcesListChanged())

    async def _send(self, peer: _Peer, send: Callable[[Channel], Awaitable[None]]) -> None:
        try:
            with anyio.move_on_after(SEND_TIMEOUT):
                await send(peer.channel)
        except Exception as exc:  # a gone client must not stop the others
            log.debug("notify_failed", session_id=peer.session.id, error=repr(exc)[:200])


class Notifier:
    """Creates a ``Delivery`` per server run (the server's lifespan); the first live one also
    feeds the SDK's subscription bus, so 2026-era streams hear each change once."""

    def __init__(
        self,
        events: ChangeBus,
        *,
        remote: ChangeBus | None = None,
        refresh: Callable[[Session], Awaitable[None]] | None = None,
        dedupe_s: float = 0.5,
    ) -> None:
        self.events = events
        self.remote = remote
        self.refresh = refresh
        self.dedupe_s = dedupe_s if remote is not None else 0.0
        self.bus = InMemorySubscriptionBus()
        self._live: list[Delivery] = []

    @asynccontextmanager
    async def lifespan(self, _server: Any) -> AsyncIterator[Delivery]:
        delivery = Delivery(
            self.bus, publish_to_bus=not self._live, refresh=self.refresh, dedupe_s=self.dedupe_s
        )
        self._live.append(delivery)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(delivery.run, self.events)
                if self.remote is not None:
                    await tg.start(delivery.run, self.remote)
                if delivery.dedupe_s > 0:
                    tg.start_soon(delivery.flush_loop)
                yield delivery
                tg.cancel_scope.cancel()
        finally:
            self._live.remove(delivery)
            if delivery.publish_to_bus and self._live:
                self._live[0].publish_to_bus = True
