"""Which UCP session a request belongs to.

Handshake-era connections (stdio, a stateful HTTP ``Mcp-Session-Id``) are one
SDK ``Connection`` each, which lives across requests: the UCP session is kept in
that connection's ``state``, attached to the run's ``Delivery`` (so it hears
list changes and resource updates) and closed when the connection closes. A
2026-07-28 request is its own connection (the era has no sessions; its tool list
must not vary per connection), so it gets a throwaway session that is not
registered.

Each session carries the ``Identity`` the HTTP front authenticated (``auth.py``);
a request presenting another identity's session is refused.

With a shared state store (several replicas), a handshake-era HTTP session's state is a
snapshot in the store (``ucp.session.snapshot``): written when ``initialize`` is answered,
read at the start of every request and written back at its end (``SessionSync``, a server
middleware), so the next request may land on any replica. The connection's ``Session`` is
then only this replica's copy.

The SDK gives a low-level handler no public handle on the ``Connection``; the
one private access is here (``_connection_of``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ucp.errors import StoreUnavailableError, UnknownSessionError
from ucp.frontend.auth import identity_of
from ucp.frontend.errors import to_mcp_error
from ucp.frontend.notify import Delivery
from ucp.log import get_logger
from ucp.session.api import LOCAL, Session, SessionAPI
from ucp.session.snapshot import SessionStore, apply_snapshot, session_from_snapshot, snapshot_of

log = get_logger("ucp.frontend.sessions")

_KEY = "ucp.session"
_PARAMS = "ucp.client_params"  # the raw initialize params, kept for the snapshot


def _connection_of(ctx: ServerRequestContext[Any]) -> Connection | None:
    conn = getattr(ctx.session, "_connection", None)
    return conn if isinstance(conn, Connection) else None


def _shared_id(ctx: ServerRequestContext[Any], store: SessionStore | None) -> str | None:
    """The session id whose state lives in the store, else None (embedded, stdio, 2026 era)."""
    if store is None or ctx.request is None or ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        return None
    conn = _connection_of(ctx)
    return conn.session_id if conn is not None and conn.session_id else None


async def session_for(
    api: SessionAPI, ctx: ServerRequestContext[Any], store: SessionStore | None = None
) -> Session:
    conn = _connection_of(ctx)
    identity = identity_of(ctx.request) if ctx.request is not None else LOCAL
    shared_id = _shared_id(ctx, store)
    if shared_id is not None and conn is not None and store is not None:
        return await _shared_session(api, ctx, conn, store, shared_id, identity)
    if conn is not None:
        existing = conn.state.get(_KEY)
        if isinstance(existing, Session):
            if not existing.belongs_to(identity):  # a session id presented with another identity's token
                raise to_mcp_error(
                    UnknownSessionError("this session belongs to another identity", session_id=existing.id)
                )
            existing.touch()
            return existing
    await api.ready()
    params = ctx.session.client_params
    info = params.client_info if params else None
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    header_id = None
    if ctx.request is not None and not modern:
        header_id = ctx.request.headers.get("mcp-session-id")
    session = api.open(
        client_name=info.name if info else "",
        client_version=info.version if info else "",
        protocol_version=ctx.protocol_version,
        transport="http" if ctx.request is not None else "stdio",
        session_id=header_id,
        register=not modern,
        identity=identity,
    )
    if conn is not None:
        conn.state[_KEY] = session
        if not modern:
            delivery = ctx.lifespan_context
            if isinstance(delivery, Delivery):
                delivery.attach(session, ctx.session)
                conn.exit_stack.callback(delivery.detach, session.id)
            conn.exit_stack.callback(api.close, session.id)
    return session


def _attach(api: SessionAPI, delivery: Any, conn: Connection, session: Session, channel: Any) -> None:
    conn.state[_KEY] = session
    if isinstance(delivery, Delivery):
        delivery.attach(session, channel)
        conn.exit_stack.callback(delivery.detach, session.id)
    conn.exit_stack.callback(api.close, session.id)  # this replica's copy; the snapshot stays


def may_resume(request: Any, snapshot: Mapping[str, Any]) -> bool:
    """Whether ``request``'s identity is the one that opened the stored session (else: 404)."""
    try:
        owner = session_from_snapshot(dict(snapshot))
    except (KeyError, TypeError, ValueError):
        return False
    return owner.belongs_to(identity_of(request))


def adopt(api: SessionAPI, delivery: Any, conn: Connection, snapshot: Mapping[str, Any]) -> Session:
    """A session another replica opened, now served here too (``resume.py``): this replica's copy,
    attached to its notifications at once (its GET stream may be the first request it sees)."""
    session = apply_snapshot(api.open(session_id=str(snapshot["id"]), transport="http"), dict(snapshot))
    raw = snapshot.get("client_params")
    if isinstance(raw, dict):
        conn.state[_PARAMS] = raw
    _attach(api, delivery, conn, session, conn)
    return session


async def _shared_session(
    api: SessionAPI,
    ctx: ServerRequestContext[Any],
    conn: Connection,
    store: SessionStore,
    session_id: str,
    identity: Any,
) -> Session:
    existing = conn.state.get(_KEY)
    try:
        snapshot = await store.load(session_id)
    except StoreUnavailableError as exc:
        if not isinstance(existing, Session):
            raise to_mcp_error(exc) from None
        log.warning("session_served_from_local_copy", session_id=session_id, reason="store unavailable")
        snapshot = None  # degrade: this replica's copy (its changes are written back once the store answers)
    if snapshot is None:
        if isinstance(existing, Session):  # opened here before the store knew it (written at the end)
            session = existing
        else:
            raise to_mcp_error(
                UnknownSessionError("this session ended (idle or deleted)", session_id=session_id)
            )
    else:
        if isinstance(existing, Session):
            session = apply_snapshot(existing, snapshot)
        else:
            session = adopt(api, ctx.lifespan_context, conn, snapshot)
    if not session.belongs_to(identity):
        raise to_mcp_error(
            UnknownSessionError("this session belongs to another identity", session_id=session_id)
        )
    session.touch()
    return session


async def open_on_initialize(
    api: SessionAPI, ctx: ServerRequestContext[Any], store: SessionStore, result: Mapping[str, Any]
) -> None:
    """Open the UCP session when ``initialize`` is answered and write its first snapshot, so the
    session's next request can land on another replica."""
    conn = _connection_of(ctx)
    if conn is None or not conn.session_id or ctx.request is None:
        return
    raw = dict(ctx.params or {})
    try:
        params = types.InitializeRequestParams.model_validate(raw, by_name=False)
    except Exception:
        return  # the SDK answered the error itself
    version = str(result.get("protocolVersion") or params.protocol_version)
    raw["protocolVersion"] = version
    session = api.open(
        client_name=params.client_info.name,
        client_version=params.client_info.version,
        protocol_version=version,
        transport="http",
        session_id=conn.session_id,
        identity=identity_of(ctx.request),
    )
    conn.state[_PARAMS] = raw
    _attach(api, ctx.lifespan_context, conn, session, ctx.session)
    try:
        await store.save(session.id, snapshot_of(session, raw))
    except StoreUnavailableError as exc:
        raise to_mcp_error(exc) from None


class SessionSync:
    """Server middleware: with a shared store, write the session's snapshot back after each request
    (and the first one after ``initialize``). A failed write is logged, never turned into a failed
    call: the call already happened, and a retry would repeat it."""

    def __init__(self, api: SessionAPI, store: SessionStore) -> None:
        self.api = api
        self.store = store

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if _shared_id(ctx, self.store) is None and ctx.method != "initialize":
            return result
        if ctx.method == "initialize":
            if isinstance(result, Mapping) and ctx.request is not None:
                await open_on_initialize(self.api, ctx, self.store, result)
            return result
        conn = _connection_of(ctx)
        session = conn.state.get(_KEY) if conn is not None else None
        if conn is not None and isinstance(session, Session):
            try:
                await self.store.save(session.id, snapshot_of(session, conn.state.get(_PARAMS)))
            except StoreUnavailableError:
                log.warning("session_not_saved", session_id=session.id, reason="store unavailable")
        return result
