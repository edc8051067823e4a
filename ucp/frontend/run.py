"""Serving loops: an MCP server over stdio, or a Starlette app with uvicorn (built by ``ucp.app``)."""

from __future__ import annotations

from typing import Any

from mcp.server.stdio import stdio_server
from starlette.applications import Starlette

from ucp.log import get_logger

log = get_logger("ucp.frontend")


async def run_stdio(server: Any) -> None:
    async with stdio_server() as (read, write):
        log.info("serving", transport="stdio")
        await server.run(read, write, server.create_initialization_options())


async def run_http(app: Starlette, host: str, port: int) -> None:
    import uvicorn  # lazy: stdio serving never needs it

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    log.info("serving", transport="http", url=f"http://{host}:{port}/mcp")
    await uvicorn.Server(config).serve()
