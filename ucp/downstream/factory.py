"""Config -> transport: the one place that knows which adapter serves which wire."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio

from ucp.builtins.base import BuiltinServer
from ucp.config.models import HttpServer, ServerConfig, SseServer, StdioServer, UtcpServer
from ucp.downstream.base import Transport
from ucp.downstream.builtin import BuiltinTransport
from ucp.downstream.mcp import McpTransport
from ucp.downstream.prespawn import Prespawned
from ucp.downstream.stdio import DEFAULT_MAX_LINE, line_streams


def make_transport(
    config: ServerConfig,
    *,
    env: Mapping[str, str] | None = None,
    logs_dir: Path | None = None,
    utcp_options: Mapping[str, object] | None = None,
    prespawned: Prespawned | None = None,
    oauth_dir: Path | None = None,
    max_line_bytes: int | None = None,
) -> Transport:
    if isinstance(config, StdioServer):
        # a stdio server's stderr goes to $UCP_HOME/logs/<server>.stderr.log
        errlog = logs_dir / f"{config.name}.stderr.log" if logs_dir else None
        if max_line_bytes:
            return McpTransport(
                config, env=env, errlog_path=errlog, prespawned=prespawned, max_line_bytes=max_line_bytes
            )
        return McpTransport(config, env=env, errlog_path=errlog, prespawned=prespawned)
    if isinstance(config, (HttpServer, SseServer)):
        return McpTransport(config, env=env, oauth_dir=oauth_dir)
    if isinstance(config, UtcpServer):
        from ucp.downstream.utcp import UtcpTransport  # lazy: utcp imports aiohttp and plugins

        transport: Transport = UtcpTransport(config, env=env, options=dict(utcp_options or {}))
        return transport
    raise TypeError(f"no transport for {type(config).__name__}")


def builtin_transport(
    server: BuiltinServer | str,
    *,
    name: str | None = None,
    listing: Path | None = None,
    isolation: Literal["thread", "process"] = "thread",
) -> Transport:
    return BuiltinTransport(server, name=name, listing=listing, isolation=isolation)


def shared_socket(directory: Path, server: str) -> Path:
    """Where UCP's pool process serves ``server`` to its workers (hashed: server names may be
    long, unix socket paths may not)."""
    return directory / f"{hashlib.sha256(server.encode()).hexdigest()[:16]}.sock"


def shared_transport(
    config: ServerConfig, directory: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE
) -> Transport:
    """A worker's connection to ``config``'s server through UCP's pool process (``pool/share.py``):
    MCP over a unix socket, whatever the server's own wire."""
    path = shared_socket(directory, config.name)

    @asynccontextmanager
    async def streams() -> AsyncIterator[tuple[Any, Any]]:
        stream = await anyio.connect_unix(path)
        async with line_streams(stream, max_line_bytes=max_line_bytes, server=config.name) as pair:
            yield pair

    return McpTransport(config, streams=streams, max_line_bytes=max_line_bytes)
