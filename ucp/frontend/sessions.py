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

The SDK gives a low-level handler no public handle on the ``Connection``; the
one private access is here (``_connection_of``).
"""

from __future__ import annotations

from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.connection import Connection
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ucp.errors import UnknownSessionError
from ucp.frontend.auth import identity_of
from ucp.frontend.errors import to_mcp_error
from ucp.frontend.notify import Delivery
from ucp.session.api import LOCAL, Session, SessionAPI

_KEY = "ucp.session"


def _connection_of(ctx: ServerRequestContext[Any]) -> Connection | None:
    conn = getattr(ctx.session, "_connection", None)
    return conn if isinstance(conn, Connection) else None


async def session_for(api: SessionAPI, ctx: ServerRequestContext[Any]) -> Session:
    conn = _connection_of(ctx)
    identity = identity_of(ctx.request) if ctx.request is not None else LOCAL
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
