"""A span and a request id for every MCP request UCP serves (stdio and streamable HTTP alike).

The MCP SDK's context-tier middleware wraps each inbound message with its ``ServerRequestContext``
(the request's ``_meta`` and, over HTTP, the HTTP request). This one replaces the SDK's own
OpenTelemetry middleware (which writes to the process-global provider, silent unless someone set
one, and would double every span if someone did) with UCP's tracer: a server span
``MCP <method> [<name>]`` as the child of the caller's W3C context (``traceparent`` header, else
``_meta.traceparent``), and the request id bound into the log context. The SDK runs handlers on
the session's task, so the HTTP middleware's context never reaches them: this is where MCP's
per-request context is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from opentelemetry.trace import SpanKind

from ucp.frontend.request_context import request_id_from
from ucp.observe.telemetry import Telemetry


def carriers(ctx: ServerRequestContext[Any, Any]) -> tuple[dict[str, str], Mapping[str, Any] | None]:
    """The HTTP request's headers (streamable HTTP) and the request's ``_meta``."""
    raw = getattr(ctx.request, "headers", None)
    headers = {str(k).lower(): str(v) for k, v in raw.items()} if raw is not None else {}
    meta: Any = ctx.meta
    if meta is not None and not isinstance(meta, Mapping):
        meta = meta.model_dump(by_alias=True, exclude_none=True) if hasattr(meta, "model_dump") else None
    return headers, meta


class McpTracing:
    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.request_id is None:  # a notification: nothing to answer, nothing to time
            return await call_next(ctx)
        headers, meta = carriers(ctx)
        tracing = self.telemetry.tracing
        with structlog.contextvars.bound_contextvars(request_id=request_id_from(headers)):
            if not tracing.enabled:
                return await call_next(ctx)
            name = ctx.params.get("name") if ctx.params else None
            target = f" {name}" if isinstance(name, str) else ""
            attributes: dict[str, Any] = {
                "mcp.method.name": ctx.method,
                "jsonrpc.request.id": str(ctx.request_id),
            }
            if isinstance(name, str) and ctx.method == "tools/call":
                attributes["gen_ai.tool.name"] = name
            with (
                tracing.remote_parent(headers=headers, meta=meta),
                tracing.span(
                    f"MCP {ctx.method}{target}", kind=SpanKind.SERVER, attributes=attributes
                ) as span,
                structlog.contextvars.bound_contextvars(
                    trace_id=format(span.get_span_context().trace_id, "032x")
                ),
            ):
                return await call_next(ctx)
