"""An MCP server that reports the W3C trace context it was called with (for UCP's tracing tests).

Tool ``trace_context``: the ``traceparent`` of the request's ``_meta`` and, over HTTP, of the
request's headers. Usage: python trace_server.py [stdio | http PORT]
"""

from __future__ import annotations

import json
import sys
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

mcp = MCPServer("trace")


@mcp.tool()
def trace_context(ctx: Context) -> str:
    """Report the trace context this call carried."""
    meta: Any = ctx.request_context.meta
    if meta is not None and hasattr(meta, "model_dump"):
        meta = meta.model_dump(by_alias=True, exclude_none=True)
    headers = ctx.headers or {}
    return json.dumps(
        {
            "meta": (meta or {}).get("traceparent") if isinstance(meta, dict) else None,
            "header": {k.lower(): v for k, v in headers.items()}.get("traceparent"),
        }
    )


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "stdio":
        mcp.run("stdio")
    elif mode == "http":
        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")
