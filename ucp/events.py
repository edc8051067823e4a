"""Typed change events and the bus they travel on.

A ``Change`` says what changed where: a server, a closed set of kinds, the URI
when one resource was updated, the session when a change concerns one session
only (a dynamic-mode working set). Two buses carry them:

- the pool publishes what its downstreams did (``tools``/``resources``/``prompts``
  lists re-read, ``state`` moved, server ``removed``, a ``resource_updated``);
- the session layer re-publishes what clients must hear, once the catalog is up to
  date and after debouncing a burst (``ucp.session.sync``): the fronts turn those
  into ``notifications/*`` for handshake-era sessions and into events on the SDK's
  subscription bus for 2026-era ``subscriptions/listen`` streams.

Handlers run synchronously, in subscription order, on the publisher's task: they
must be quick and must not raise (a raising handler is logged and skipped, so
one bad subscriber never starves the others). Asynchronous consumers use
``stream()``: a bounded buffer per consumer; a consumer too slow to keep up
loses what does not fit (logged); the publisher never blocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ucp.log import get_logger

log = get_logger("ucp.events")


class ChangeKind(StrEnum):
    TOOLS = "tools"
    RESOURCES = "resources"
    PROMPTS = "prompts"
    STATE = "state"
    REMOVED = "removed"
    RESOURCE_UPDATED = "resource_updated"


LISTS = frozenset({ChangeKind.TOOLS, ChangeKind.RESOURCES, ChangeKind.PROMPTS})


@dataclass(frozen=True, slots=True)
class Change:
    server: str
    kinds: frozenset[ChangeKind]
    uri: str | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        if not self.kinds:
            raise ValueError("a Change needs at least one kind")
        if (ChangeKind.RESOURCE_UPDATED in self.kinds) != (self.uri is not None):
            raise ValueError("a resource_updated change carries the resource URI (and only it does)")

    @classmethod
    def of(cls, server: str, *kinds: ChangeKind | str, uri: str | None = None) -> Change:
        return cls(server, frozenset(ChangeKind(k) for k in kinds), uri=uri)

    def has(self, *kinds: ChangeKind) -> bool:
        return any(k in self.kinds for k in kinds)


Handler = Callable[[Change], None]


class ChangeBus:
    def __init__(self, *, buffer: int = 1000) -> None:
        self._handlers: list[Handler] = []
        self._streams: list[MemoryObjectSendStream[Change]] = []
        self._buffer = buffer

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call ``handler`` for every change; returns the function that unsubscribes it."""
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    @asynccontextmanager
    async def stream(self) -> AsyncIterator[MemoryObjectReceiveStream[Change]]:
        """Every change published while the context is open, in order."""
        send, receive = anyio.create_memory_object_stream[Change](self._buffer)
        self._streams.append(send)
        try:
            async with receive:
                yield receive
        finally:
            self._streams.remove(send)
            send.close()

    def publish(self, change: Change) -> None:
        for handler in list(self._handlers):
            try:
                handler(change)
            except Exception:
                log.exception("change_handler_failed", server=change.server, kinds=sorted(change.kinds))
        for send in list(self._streams):
            try:
                send.send_nowait(change)
            except anyio.WouldBlock:
                log.warning("change_dropped", server=change.server, reason="a consumer fell behind")
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

    def publish_all(self, changes: Iterable[Change]) -> None:
        for change in changes:
            self.publish(change)
