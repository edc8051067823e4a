"""Per-request context on HTTP: a request id and the caller's trace, on every log line of the request.

Pure ASGI middleware (streaming responses pass through untouched). It takes the
request id from ``X-Request-Id`` (when it is short and printable) or makes one,
echoes it in the response, and binds it — with the trace id once a span is open
— into structlog's context variables, so every line the request logs carries
them. It opens the request's server span as a child of the caller's W3C
``traceparent``. ``/mcp`` is the exception for the span: the MCP SDK runs a
message's handler on the session's own task, so the MCP front opens that span
itself from the same headers (``server.py``); the request id is bound here and
there alike.
"""

from __future__ import annotations

import re
import uuid

import structlog
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ucp.observe.telemetry import Telemetry

REQUEST_ID = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MCP_PATH = "/mcp"


def request_id_from(headers: dict[str, str]) -> str:
    given = headers.get(REQUEST_ID, "")
    return given if _VALID_ID.match(given) else uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: ASGIApp, *, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = request_id_from(headers)
        if headers.get(REQUEST_ID) != request_id:  # handlers that read headers (MCP) see the same id
            scope = {
                **scope,
                "headers": [
                    *(h for h in scope.get("headers", []) if h[0].lower() != REQUEST_ID.encode()),
                    (REQUEST_ID.encode(), request_id.encode()),
                ],
            }
        path = str(scope.get("path", ""))
        status = {"code": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message.get("status", 0))
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())],
                }
            await send(message)

        tracing = self.telemetry.tracing
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            if path == MCP_PATH or path.startswith(MCP_PATH + "/") or not tracing.enabled:
                await self.app(scope, receive, send_with_id)
                return
            method = str(scope.get("method", "GET"))
            with (
                tracing.remote_parent(headers=headers),
                tracing.span(
                    f"{method} {path}",
                    kind=SpanKind.SERVER,
                    attributes={"http.request.method": method, "url.path": path},
                ) as span,
                structlog.contextvars.bound_contextvars(
                    trace_id=format(span.get_span_context().trace_id, "032x")
                ),
            ):
                await self.app(scope, receive, send_with_id)
                span.set_attribute("http.response.status_code", status["code"])
