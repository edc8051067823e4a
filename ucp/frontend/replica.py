"""What one replica of several shares with the others, as the HTTP front sees it.

A replica on the shared backend (``[state] backend = "redis"``) gets a ``Replica``: the
session store its 2025-era sessions live in (``ucp.session.snapshot``), the change fan-out that
carries notifications to whichever replica holds a client's stream (``ucp.frontend.fanout``),
the store's ping for readiness, and its presence: ``<namespace>:replica:<id>`` in Redis, written
while it serves (renewed by the fan-out's heartbeat) and deleted when it drains, so an
operator (and the tests) can see which replicas are up. The embedded backend has none: one
process, today's behaviour.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from ucp.frontend.fanout import Fanout
from ucp.log import get_logger
from ucp.session.snapshot import RedisSessionStore, SessionStore
from ucp.state import State

log = get_logger("ucp.frontend.replica")

PRESENCE_TTL_S = 15


@dataclass
class Replica:
    store: SessionStore
    fanout: Fanout | None
    client: Any = None  # the redis.asyncio client (None in tests with in-memory parts)
    replica_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    presence_key: str = ""
    state: State | None = None
    deregistered: bool = False  # the heartbeat writes nothing after the drain
    held: Callable[[], list[str]] = list  # ids of the HTTP sessions this replica holds (the gateway's)

    @classmethod
    def on_state(cls, state: State, *, session_ttl_s: float, replica_id: str | None = None) -> Replica:
        """The replica parts over ``state``'s Redis client (``state.shared`` must be true)."""
        rid = replica_id or uuid.uuid4().hex[:12]
        client = state.redis
        return cls(
            store=RedisSessionStore(client, ttl_s=session_ttl_s, prefix=state.key("sess", "")),
            fanout=Fanout(client, replica_id=rid, channel=state.key("notify")),
            client=client,
            replica_id=rid,
            presence_key=state.key("replica", rid),
            state=state,
        )

    async def ping(self) -> bool:
        """Every configured store answers (Redis, and PostgreSQL when set): readiness."""
        if self.state is not None:
            return (await self.state.ping()).ok
        return await self.store.ping()

    def _presence(self) -> str:
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()})

    async def heartbeat(self, interval: float = 5.0) -> None:
        """Keep ``<namespace>:replica:<id>`` alive while this replica runs, and the TTL of the sessions
        it holds (a client that only listens on its stream sends no request that would renew it).
        Errors: logged, retried."""
        value = self._presence()
        while not self.deregistered:
            try:
                if self.client is not None and self.presence_key:
                    await self.client.set(self.presence_key, value, ex=PRESENCE_TTL_S)
                held = self.held()
                if held:
                    await self.store.touch(held)
            except Exception as exc:
                log.debug("presence_not_written", error=type(exc).__name__)
            await anyio.sleep(interval)

    async def deregister(self) -> None:
        self.deregistered = True
        if self.client is None or not self.presence_key:
            return
        try:
            with anyio.fail_after(2):
                await self.client.delete(self.presence_key)
            log.info("replica_deregistered", replica=self.replica_id)
        except Exception as exc:
            log.warning("replica_not_deregistered", error=type(exc).__name__)
