"""MCP sessions any replica can serve: a session's state as a snapshot in a shared store.

A 2025-era streamable HTTP session (``Mcp-Session-Id``) is opened on one replica and its
next request may land on any other. What UCP knows about the session — the negotiated
protocol version, the client's ``initialize`` params (info, capabilities), the identity that
opened it, its exposure mode, the dynamic working set, the history the router reads,
resource subscriptions — is a JSON snapshot under ``<namespace>:sess:<id>`` in Redis, read at
the start of each request and written back at its end, with a TTL of the idle timeout (each
write renews it). The SDK's per-process transport is a cache a replica rebuilds from the
snapshot (``frontend/resume.py``); it is never the source of truth.

Why a store and not a signed, encrypted session id: the id is fixed at ``initialize``, while
the working set and the history change with every request; an id could carry only the
static part, the rest would still need a store. A store also lets DELETE end a session
everywhere at once and an operator list sessions.

Writes are last-writer-wins per session: a client's requests in one session are normally
sequential; two concurrent requests of one session on two replicas may lose one history item
(never the session). The embedded backend has no snapshot store: one process, today's
in-memory sessions.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any, Protocol

from ucp.errors import StoreUnavailableError
from ucp.identity import Identity
from ucp.session.state import MAX_HISTORY, HistoryItem, Session
from ucp.session.working_set import WorkingSet, _Item

KEY_PREFIX = "ucp:sess:"  # ``State.key("sess", "")`` in a deployment's namespace
SNAPSHOT_VERSION = 1


class SessionStore(Protocol):
    async def load(self, session_id: str) -> dict[str, Any] | None: ...

    async def save(self, session_id: str, snapshot: dict[str, Any]) -> None: ...

    async def delete(self, session_id: str) -> None: ...

    async def touch(self, session_ids: list[str]) -> None:
        """Renew the TTL of sessions this replica holds (a client may only listen on its stream)."""
        ...

    async def ping(self) -> bool: ...


# ---------------------------------------------------------------- snapshot <-> Session
def _identity_to_dict(identity: Identity) -> dict[str, Any]:
    return {
        "subject": identity.subject,
        "tenant": identity.tenant,
        "via": identity.via,
        "scopes": sorted(identity.scopes),
        "groups": sorted(identity.groups),
        "roles": sorted(identity.roles),
        "key_id": identity.key_id,
        "expires_at": identity.expires_at,
        "client_id": identity.client_id,
        "operator": identity.operator,
    }


def _identity_from_dict(data: dict[str, Any]) -> Identity:
    return Identity(
        subject=str(data["subject"]),
        tenant=str(data.get("tenant", "default")),
        via=str(data.get("via", "local")),
        scopes=frozenset(data.get("scopes", ())),
        groups=frozenset(data.get("groups", ())),
        roles=frozenset(data.get("roles", ())),
        key_id=data.get("key_id"),
        expires_at=data.get("expires_at"),
        client_id=data.get("client_id"),
        operator=bool(data.get("operator", False)),
    )


def _history_from_dict(data: dict[str, Any]) -> HistoryItem:
    return HistoryItem(
        kind=data["kind"],
        at=float(data["at"]),
        text=str(data.get("text", "")),
        tool=data.get("tool"),
        arguments=data.get("arguments"),
        outcome=data.get("outcome"),
        duration_ms=data.get("duration_ms"),
        results=tuple(data.get("results", ())),
    )


def _working_set_to_dict(ws: WorkingSet) -> dict[str, Any]:
    return {
        "max_tools": ws.max_tools,
        "token_budget": ws.token_budget,
        "tick": ws._tick,
        "items": [[i.name, i.tokens, i.last_useful, i.calls, i.score] for i in ws._items.values()],
    }


def _working_set_from_dict(data: dict[str, Any]) -> WorkingSet:
    ws = WorkingSet(max_tools=int(data["max_tools"]), token_budget=int(data["token_budget"]))
    ws._tick = int(data.get("tick", 0))
    for name, tokens, last_useful, calls, score in data.get("items", ()):
        ws._items[str(name)] = _Item(str(name), int(tokens), int(last_useful), int(calls), float(score))
    return ws


def snapshot_of(session: Session, client_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """What another replica needs to serve ``session`` (JSON-safe)."""
    return {
        "v": SNAPSHOT_VERSION,
        "id": session.id,
        "client_name": session.client_name,
        "client_version": session.client_version,
        "protocol_version": session.protocol_version,
        "transport": session.transport,
        "mode": session.mode,
        "created_at": session.created_at,
        "last_seen": session.last_seen,
        "history": [_history_to_dict(i) for i in session.history],
        "working_set": _working_set_to_dict(session.working_set) if session.working_set is not None else None,
        "listed_version": session.listed_version,
        "subscriptions": sorted(session.subscriptions),
        "identity": _identity_to_dict(session.identity),
        "client_params": client_params,
    }


def _history_to_dict(item: HistoryItem) -> dict[str, Any]:
    out = item.to_dict()
    if item.arguments is not None:
        out["arguments"] = item.arguments
    return out


def apply_snapshot(session: Session, snapshot: dict[str, Any]) -> Session:
    """Bring ``session`` (a replica's local object) in line with the stored snapshot."""
    session.id = str(snapshot["id"])
    session.client_name = str(snapshot.get("client_name", ""))
    session.client_version = str(snapshot.get("client_version", ""))
    session.protocol_version = str(snapshot.get("protocol_version", ""))
    session.transport = str(snapshot.get("transport", "http"))
    session.mode = snapshot.get("mode", session.mode)
    session.created_at = float(snapshot.get("created_at", session.created_at))
    session.last_seen = max(session.last_seen, float(snapshot.get("last_seen", 0.0)))
    session.history = deque((_history_from_dict(h) for h in snapshot.get("history", ())), maxlen=MAX_HISTORY)
    ws = snapshot.get("working_set")
    session.working_set = _working_set_from_dict(ws) if ws is not None else None
    session.listed_version = int(snapshot.get("listed_version", -1))
    session.subscriptions = set(snapshot.get("subscriptions", ()))
    session.identity = _identity_from_dict(snapshot["identity"])
    return session


def session_from_snapshot(snapshot: dict[str, Any]) -> Session:
    return apply_snapshot(Session(), snapshot)


# ---------------------------------------------------------------- stores
class MemorySessionStore:
    """In one process (tests, and what a replica sees as "the store" when it is alone)."""

    def __init__(self, ttl_s: float = 600.0) -> None:
        self.ttl_s = ttl_s
        self._data: dict[str, tuple[float, str]] = {}

    async def load(self, session_id: str) -> dict[str, Any] | None:
        item = self._data.get(session_id)
        if item is None or item[0] < time.monotonic():
            self._data.pop(session_id, None)
            return None
        loaded: dict[str, Any] = json.loads(item[1])
        return loaded

    async def save(self, session_id: str, snapshot: dict[str, Any]) -> None:
        self._data[session_id] = (time.monotonic() + self.ttl_s, json.dumps(snapshot))

    async def delete(self, session_id: str) -> None:
        self._data.pop(session_id, None)

    async def touch(self, session_ids: list[str]) -> None:
        for sid in session_ids:
            if sid in self._data:
                self._data[sid] = (time.monotonic() + self.ttl_s, self._data[sid][1])

    async def ping(self) -> bool:
        return True


class RedisSessionStore:
    """Snapshots in Redis (``redis.asyncio``): ``SET <prefix><id> <json> EX ttl``.

    Each operation is tried ``attempts`` times: after a Redis restart the client's pool still
    holds connections to the old server, and each failed try discards one of them."""

    def __init__(
        self, client: Any, *, ttl_s: float = 600.0, prefix: str = KEY_PREFIX, attempts: int = 3
    ) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.attempts = attempts

    async def _do(self, op: str, *args: Any, **kw: Any) -> Any:
        failure: Exception | None = None
        for _ in range(self.attempts):
            try:
                return await getattr(self.client, op)(*args, **kw)
            except Exception as exc:
                failure = exc
        assert failure is not None
        raise _unavailable(failure) from None

    async def load(self, session_id: str) -> dict[str, Any] | None:
        raw = await self._do("get", self.prefix + session_id)
        if raw is None:
            return None
        loaded: dict[str, Any] = json.loads(raw)
        return loaded

    async def save(self, session_id: str, snapshot: dict[str, Any]) -> None:
        await self._do("set", self.prefix + session_id, json.dumps(snapshot), ex=max(1, int(self.ttl_s)))

    async def delete(self, session_id: str) -> None:
        await self._do("delete", self.prefix + session_id)

    async def touch(self, session_ids: list[str]) -> None:
        ttl = max(1, int(self.ttl_s))
        try:  # one round trip; EXPIRE on a key that is gone does nothing: a deleted session stays gone
            async with self.client.pipeline(transaction=False) as pipe:
                for sid in session_ids:
                    pipe.expire(self.prefix + sid, ttl)
                await pipe.execute()
        except Exception as exc:
            raise _unavailable(exc) from None

    async def ping(self) -> bool:
        try:
            return bool(await self._do("ping"))
        except StoreUnavailableError:
            return False


def _unavailable(exc: Exception) -> StoreUnavailableError:
    # the exception text of a connection error may carry the URL (and its password): only the type
    return StoreUnavailableError(
        f"the shared session store does not answer ({type(exc).__name__}); retry shortly",
        reason=type(exc).__name__,
    )
