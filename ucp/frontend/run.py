"""Serving loops: an MCP server over stdio, or a Starlette app with uvicorn (built by ``ucp.app``).

Over stdio the SDK drops a line that is not a valid JSON-RPC message (it hands the parse
error to the server, which only logs it), so a client waits forever for an answer.
``answer_invalid`` closes that gap: every such line gets a JSON-RPC error response
(``-32700`` parse error, ``-32600`` invalid request, with the request's id when it has one).
With an ``EarlyFront`` (``early.py``) the SDK's stdio transport reads the lines that front
queued from the first instant, and writes through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import anyio
import mcp_types as types
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError
from starlette.applications import Starlette

from ucp.log import get_logger

if TYPE_CHECKING:
    from ucp.frontend.early import EarlyFront

log = get_logger("ucp.frontend")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def error_for_invalid(exc: Exception) -> types.JSONRPCError:
    """The JSON-RPC error response for a line the SDK could not turn into a message."""
    code, msg_id, detail = INVALID_REQUEST, None, type(exc).__name__
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        first: dict[str, Any] = dict(errors[0]) if errors else {}
        if first.get("type") == "json_invalid":
            code, detail = PARSE_ERROR, "not valid JSON"
        else:
            # a "field required" error of some union member carries the whole object as its input
            for error in errors:
                raw = error.get("input")
                candidate = raw.get("id") if isinstance(raw, dict) else None
                if isinstance(candidate, str) or (
                    isinstance(candidate, int) and not isinstance(candidate, bool)
                ):
                    msg_id = candidate
                    break
            detail = "not a valid JSON-RPC 2.0 request"
    message = "Parse error" if code == PARSE_ERROR else "Invalid Request"
    return types.JSONRPCError(
        jsonrpc="2.0", id=msg_id, error=types.ErrorData(code=code, message=f"{message}: {detail}")
    )


async def answer_invalid(read: Any, write: Any, out: Any) -> None:
    """Forward valid messages from ``read`` to ``out``; answer each invalid line on ``write``."""
    async with out:
        async for item in read:
            if isinstance(item, Exception):
                log.info("jsonrpc_invalid_request", error=str(item)[:200])
                await write.send(SessionMessage(error_for_invalid(item)))
                continue
            await out.send(item)


async def run_stdio(server: Any, early: EarlyFront | None = None) -> None:
    if early is None:
        transport = stdio_server()
    else:
        lines, out = early.streams()
        early.on_event = lambda event, fields: log.info(event, **fields)
        transport = stdio_server(
            stdin=anyio.wrap_file(cast(Any, lines)), stdout=anyio.wrap_file(cast(Any, out))
        )
    async with transport as (read, write):
        log.info("serving", transport="stdio", answered_early=list(early.answered) if early else [])
        send, recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(answer_invalid, read, write, send)
            await server.run(recv, write, server.create_initialization_options())
            tg.cancel_scope.cancel()


def header_timeout_protocol(seconds: float) -> type[Any]:
    """uvicorn's h11 protocol with a deadline on each request's headers: a connection that has
    not sent complete headers ``seconds`` after it opened (or after its last response) is closed.
    uvicorn has no such timeout; without it a slowloris holds connections, even before auth."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11(H11Protocol):
        _header_timer: Any = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:
                log.info("http_headers_timeout", seconds=seconds)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not None and self.cycle is not before:
                self._disarm()  # headers of a new request are complete

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request's headers get the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutH11


async def run_http(app: Starlette, host: str, port: int, *, header_timeout: float = 10.0) -> None:
    log.info("serving", transport="http", url=f"http://{host}:{port}/mcp")
    await http_server(app, host, port, header_timeout=header_timeout).serve()


def http_server(app: Any, host: str, port: int, *, header_timeout: float = 10.0) -> Any:
    """The uvicorn server ``run_http`` runs (tests stop it with ``should_exit``)."""
    import uvicorn  # lazy: stdio serving never needs it

    lifecycle = getattr(app.state, "lifecycle", None)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # after a drain only notification streams are left: they are closed, not waited for
        timeout_graceful_shutdown=2 if lifecycle is not None else 5,
        http=header_timeout_protocol(header_timeout),
    )
    if lifecycle is not None:
        from ucp.frontend.lifecycle import draining_server

        return draining_server(config, lifecycle)  # SIGTERM drains first (lifecycle.py)
    return uvicorn.Server(config)
