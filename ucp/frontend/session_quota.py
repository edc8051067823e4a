"""Open MCP HTTP sessions per identity, capped: one caller cannot take every session slot.

The SDK caps sessions for the whole process (``[http] max_sessions``, then 503 for
everyone). Behind that, this pure ASGI middleware caps each caller at
``[http] max_sessions_per_identity``: an opening request (POST ``/mcp`` with no
``Mcp-Session-Id``) from a caller who already holds that many live sessions is
answered 429 with a JSON-RPC error that says which limit and how to free a slot,
before the SDK creates anything. Other callers are not affected.

The caller is the authenticated identity (tenant and subject) the auth middleware
put in the scope; unauthenticated or operator traffic (``LOCAL``) is keyed by the
client address. A session counts as live from the response that hands out its id
until the client deletes it, the server answers 404 for it (expired, or gone with
a restart), or it has had no request in flight for ``session_idle_s`` — the same
rule the SDK uses to reap idle sessions, so the two counts agree.

``SessionQuota`` is the bookkeeping, with the clock passed in (unit-tested in memory);
``SessionQuotaMiddleware`` reads it around each ``/mcp`` request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ucp.identity import Identity

SESSION_HEADER = b"mcp-session-id"


@dataclass
class _Live:
    owner: str
    in_flight: int = 0
    last_active: float = 0.0


@dataclass
class SessionQuota:
    """Live sessions per owner; a session with nothing in flight for ``idle_s`` is gone."""

    per_owner: int
    idle_s: float
    _sessions: dict[str, _Live] = field(default_factory=dict)

    def _reap(self, now: float) -> None:
        dead = [
            sid
            for sid, s in self._sessions.items()
            if s.in_flight == 0 and now - s.last_active >= self.idle_s
        ]
        for sid in dead:
            del self._sessions[sid]

    def held(self, owner: str, now: float) -> int:
        self._reap(now)
        return sum(1 for s in self._sessions.values() if s.owner == owner)

    def admits(self, owner: str, now: float) -> bool:
        return self.held(owner, now) < self.per_owner

    def opened(self, sid: str, owner: str, now: float) -> None:
        self._sessions.setdefault(sid, _Live(owner, last_active=now))

    def begin(self, sid: str) -> None:
        live = self._sessions.get(sid)
        if live is not None:
            live.in_flight += 1

    def end(self, sid: str, now: float) -> None:
        live = self._sessions.get(sid)
        if live is not None:
            live.in_flight = max(0, live.in_flight - 1)
            live.last_active = now

    def closed(self, sid: str) -> None:
        self._sessions.pop(sid, None)


def owner_of(scope: Scope, identity: Identity | None) -> str:
    """Tenant and subject of an authenticated caller; the client address otherwise."""
    if identity is not None and not identity.local:
        return f"{identity.tenant}/{identity.subject}"
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:?"


def _refusal(held: int, limit: int) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": -32000,
                "message": f"too many open MCP sessions for this caller: {held} of {limit} "
                "([http] max_sessions_per_identity); end one (HTTP DELETE /mcp with its "
                "Mcp-Session-Id) or wait until an idle one expires ([http] session_idle_s)",
            },
        }
    ).encode()


class SessionQuotaMiddleware:
    """429 for an opening ``/mcp`` request from a caller at their session limit."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_identity: int,
        idle_s: float,
        identity_of: Callable[[Scope], Identity | None],
        path: str = "/mcp",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.quota = SessionQuota(per_identity, idle_s)
        self.identity_of = identity_of
        self.path = path
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        sid = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == SESSION_HEADER), None)
        if sid is None:
            await self._opening(scope, receive, send)
            return
        self.quota.begin(sid)
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.quota.end(sid, self.clock())
            if status == 404 or (scope.get("method") == "DELETE" and 200 <= status < 300):
                self.quota.closed(sid)

    async def _opening(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        owner = owner_of(scope, self.identity_of(scope))
        now = self.clock()
        if not self.quota.admits(owner, now):
            body = _refusal(self.quota.held(owner, now), self.quota.per_owner)
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", b"60"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        opened: str | None = None

        async def watch(message: Message) -> None:
            nonlocal opened
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                for k, v in message.get("headers", []):
                    if k.lower() == SESSION_HEADER:
                        opened = v.decode("latin-1")
                        self.quota.opened(opened, owner, self.clock())
                        self.quota.begin(opened)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            if opened is not None:
                self.quota.end(opened, self.clock())
