"""Where UCP errors become protocol errors: one mapping per protocol, in one place.

MCP: a request error is a JSON-RPC error with the error class's ``jsonrpc_code``
and a stable ``data.code``. HTTP: JSON ``{"error": {"code", "message", "details"}}``
with the class's ``http_status``. Downstream failures of a tool call are already
``is_error`` results (the call path made them), not errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from mcp import MCPError
from starlette.responses import JSONResponse

from ucp.errors import UCPError


def to_mcp_error(exc: UCPError) -> MCPError:
    data = {"code": exc.code, **{k: v for k, v in exc.details.items() if v is not None}}
    return MCPError(exc.jsonrpc_code, exc.message, data)


@contextmanager
def as_mcp_errors() -> Iterator[None]:
    """Inside an MCP handler: a ``UCPError`` leaves as the matching JSON-RPC error."""
    try:
        yield
    except UCPError as exc:
        raise to_mcp_error(exc) from None


def error_response(exc: UCPError) -> JSONResponse:
    details = {k: v for k, v in exc.details.items() if v is not None}
    body = {"error": {"code": exc.code, "message": exc.message, "details": details}}
    headers = {"retry-after": str(details["retry_after"])} if "retry_after" in details else None
    return JSONResponse(
        json.loads(json.dumps(body, default=str)), status_code=exc.http_status, headers=headers
    )
