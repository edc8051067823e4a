"""Serving loops: MCP over stdio, or HTTP (MCP + REST + UTCP) with uvicorn."""

from __future__ import annotations

import anyio
from mcp.server.stdio import stdio_server

from ucp.app import Gateway
from ucp.frontend.server import build_server
from ucp.log import get_logger

log = get_logger("ucp.frontend")


async def serve_stdio(gateway: Gateway) -> None:
    server = build_server(gateway)
    async with stdio_server() as (read, write):
        log.info("serving", transport="stdio")
        await server.run(read, write, server.create_initialization_options())


async def serve_http(gateway: Gateway, host: str, port: int, *, ready: anyio.Event | None = None) -> None:
    import uvicorn  # lazy: stdio serving never needs it

    from ucp.frontend.api import api_routes, auth_middleware

    server = build_server(gateway)
    from ucp.frontend.http import build_http_app

    app = build_http_app(
        gateway, server, host=host, extra_routes=api_routes(), middleware=auth_middleware(gateway)
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    uv = uvicorn.Server(config)
    log.info("serving", transport="http", url=f"http://{host}:{port}/mcp")
    await uv.serve()
