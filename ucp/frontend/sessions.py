"""Which UCP session a request belongs to.

Handshake-era connections (stdio, a stateful HTTP ``Mcp-Session-Id``) are one
SDK ``Connection`` each, which lives across requests: the UCP session is kept in
that connection's ``state`` and removed when it closes. A 2026-07-28 request is
its own connection (the era has no sessions; its tool list must not vary per
connection), so it gets a throwaway session that is not registered.

The SDK gives a low-level handler no public handle on the ``Connection``; the
one private access is here (``_connection_of``).
"""

from __future__ import annotations

from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.connection import Connection
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ucp.app import Gateway
from ucp.session.state import Session

_KEY = "ucp.session"


def _connection_of(ctx: ServerRequestContext[Any]) -> Connection | None:
    conn = getattr(ctx.session, "_connection", None)
    return conn if isinstance(conn, Connection) else None


async def session_for(gateway: Gateway, ctx: ServerRequestContext[Any]) -> Session:
    conn = _connection_of(ctx)
    if conn is not None:
        existing = conn.state.get(_KEY)
        if isinstance(existing, Session):
            existing.touch()
            return existing
    await gateway.wait_ready()
    params = ctx.session.client_params
    info = params.client_info if params else None
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
    header_id = None
    if ctx.request is not None and not modern:
        header_id = ctx.request.headers.get("mcp-session-id")
    session = gateway.new_session(
        client_name=info.name if info else "",
        client_version=info.version if info else "",
        protocol_version=ctx.protocol_version,
        transport="http" if ctx.request is not None else "stdio",
        session_id=header_id,
        register=not modern,
    )
    if conn is not None:
        conn.state[_KEY] = session
        if not modern:
            server_session = ctx.session  # stays usable after the handler returns (standalone channel)

            async def notify_tools() -> None:
                await server_session.send_tool_list_changed()

            async def notify_other(kind: str) -> None:
                if kind == "prompts":
                    await server_session.send_prompt_list_changed()
                elif kind == "resources":
                    await server_session.send_resource_list_changed()

            session.notify_tools_changed = notify_tools
            session.notify_changed = notify_other
            conn.exit_stack.callback(gateway.sessions.remove, session.id)
    return session
