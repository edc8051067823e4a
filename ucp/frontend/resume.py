"""Serve a 2025-era session on whichever replica its request lands: rebuild the transport.

The SDK's ``StreamableHTTPSessionManager`` keeps each session's transport in a dict of this
process and answers 404 to an ``Mcp-Session-Id`` it does not hold. Behind a round-robin load
balancer that is every other request. ``ResumingSessionManager`` looks an unknown id up in
the shared session store (``ucp.session.snapshot``); when a snapshot exists, it builds a
transport for that id and a born-initialized ``Connection`` from the snapshot's
``initialize`` params (so no second handshake is needed), registers it like a session this
process opened, and lets the SDK serve the request. An id the store does not know still
answers 404 (the client then initializes again, as the spec says). A DELETE ends the session
in the store too, so no replica resumes it afterwards.

While the store does not answer, an unknown id gets a 503 JSON-RPC error naming the outage
(the session is not lost: it is served again once the store is back); sessions this process
holds keep being served from its cache, their snapshot writes failing (logged).

The private SDK members used here (``_server_instances``, ``_session_owners``,
``_session_creation_lock``, ``_task_group``, ``_lifespan_state``, ``_discard_session``,
``_handle_stateful_request``) are all in this one module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskStatus
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, authorization_context
from mcp.server.connection import Connection
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager, _error_response
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.transport_context import TransportContext
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ucp.errors import StoreUnavailableError
from ucp.log import get_logger
from ucp.session.snapshot import SessionStore

log = get_logger("ucp.frontend.resume")

INTERNAL_ERROR = -32603


class ResumingSessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager, plus: unknown ids are resumed from the shared store."""

    store: SessionStore
    on_resumed: Callable[[Any, Connection, dict[str, Any]], Any] | None = None  # (lifespan, conn, snapshot)
    may_resume: Callable[[Request, dict[str, Any]], bool] | None = None  # False: another identity's, 404

    @classmethod
    def replacing(
        cls,
        app: Starlette,
        server: Any,
        store: SessionStore,
        on_resumed: Callable[[Any, Connection, dict[str, Any]], Any] | None = None,
        may_resume: Callable[[Request, dict[str, Any]], bool] | None = None,
    ) -> ResumingSessionManager:
        """Swap the manager ``server.streamable_http_app()`` built for one of this class, in place:
        the route's ASGI app and the lifespan both reach the manager through ``server``'s and the
        route's references, so both are pointed at the new one."""
        old: StreamableHTTPSessionManager = server.session_manager
        new = cls(
            app=old.app,
            event_store=old.event_store,
            json_response=old.json_response,
            stateless=old.stateless,
            security_settings=old.security_settings,
            retry_interval=old.retry_interval,
            session_idle_timeout=old.session_idle_timeout,
            max_request_body_size=old.max_request_body_size,
            max_sessions=old.max_sessions,
        )
        new.store = store
        new.on_resumed = on_resumed
        new.may_resume = may_resume
        server._session_manager = new
        for route in app.routes:
            endpoint: Any = getattr(route, "app", None)
            target: Any = getattr(
                endpoint, "app", endpoint
            )  # RequireAuthMiddleware wraps it when SDK auth is on
            if getattr(target, "session_manager", None) is old:
                target.session_manager = new
        app.router.lifespan_context = lambda _app: new.run()
        return new

    async def _handle_stateful_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        session_id = request.headers.get(MCP_SESSION_ID_HEADER)
        if session_id is not None and session_id not in self._server_instances:
            try:
                snapshot = await self.store.load(session_id)
            except StoreUnavailableError as exc:
                log.warning("session_resume_store_down", session_id=session_id[:64])
                await _error_response(exc.message, 503, INTERNAL_ERROR)(scope, receive, send)
                return
            if snapshot is not None and (self.may_resume is None or self.may_resume(request, snapshot)):
                await self._resume(session_id, snapshot, scope)
        await super()._handle_stateful_request(scope, receive, send)
        if request.method == "DELETE" and session_id is not None and session_id not in self._server_instances:
            try:
                await self.store.delete(session_id)
            except StoreUnavailableError:
                log.warning("session_delete_store_down", session_id=session_id[:64])

    async def _resume(self, session_id: str, snapshot: dict[str, Any], scope: Scope) -> None:
        try:
            transport = StreamableHTTPServerTransport(
                mcp_session_id=session_id,
                is_json_response_enabled=self.json_response,
                event_store=self.event_store,
                security_settings=self.security_settings,
                retry_interval=self.retry_interval,
                idle_timeout=self.session_idle_timeout,
            )
        except ValueError:
            return  # not a well-formed id: the SDK answers 404
        async with self._session_creation_lock:
            if session_id in self._server_instances:
                return  # a concurrent request of the same session resumed it first
            if self.max_sessions is not None and len(self._server_instances) >= self.max_sessions:
                return  # the SDK answers 404; the client opens a new session (on a replica with room)
            user = scope.get("user")
            if isinstance(user, AuthenticatedUser):
                self._session_owners[session_id] = authorization_context(user)
            self._server_instances[session_id] = transport
        params = _client_params(snapshot)
        version = str(snapshot.get("protocol_version") or types.LATEST_PROTOCOL_VERSION)

        async def run_server(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with transport.connect() as (read_stream, write_stream):
                task_status.started()
                dispatcher: JSONRPCDispatcher[TransportContext] = JSONRPCDispatcher(
                    read_stream, write_stream, inline_methods=frozenset({"initialize"})
                )
                connection = Connection.for_loop(
                    dispatcher, session_id=session_id, protocol_version_hint=version
                )
                connection.client_params = params
                connection.initialized.set()  # the handshake happened on the replica that opened it
                if self.on_resumed is not None:
                    self.on_resumed(self._lifespan_state, connection, snapshot)
                try:
                    idle_scope = transport.idle_scope or anyio.CancelScope()
                    with idle_scope:
                        await serve_connection(
                            self.app, dispatcher, connection=connection, lifespan_state=self._lifespan_state
                        )
                except Exception:
                    log.exception("resumed_session_crashed", session_id=session_id)
                finally:
                    await self._discard_session(session_id, transport)

        assert self._task_group is not None
        await self._task_group.start(run_server)
        log.info("session_resumed", session_id=session_id, protocol=version)


def _client_params(snapshot: dict[str, Any]) -> types.InitializeRequestParams | None:
    raw = snapshot.get("client_params")
    if not isinstance(raw, dict):
        return None
    try:
        return types.InitializeRequestParams.model_validate(raw, by_name=False)
    except ValidationError:
        return None
