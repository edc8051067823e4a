"""``ucp serve``: run the gateway over stdio (for hosts) or HTTP."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

import anyio
import typer

from ucp import log as ucp_log
from ucp.cli.common import fail, fail_error, load
from ucp.errors import UCPError


class TransportChoice(str, Enum):
    stdio = "stdio"
    http = "http"


class ModeChoice(str, Enum):
    auto = "auto"
    full = "full"
    search = "search"
    dynamic = "dynamic"


def serve(
    transport: TransportChoice = typer.Option(
        TransportChoice.stdio, "--transport", "-t", help="stdio (for hosts) or http."
    ),
    stdio: bool = typer.Option(False, "--stdio", help="Shorthand for --transport stdio."),
    host: str = typer.Option(None, "--host", help="HTTP bind address (default 127.0.0.1, or [http] host)."),
    port: int = typer.Option(None, "--port", "-p", help="HTTP port (default 8765, or [http] port)."),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Registry or host config file (default $UCP_HOME/ucp.toml; env UCP_CONFIG).",
    ),
    mode: ModeChoice | None = typer.Option(
        None, "--mode", "-m", help="Exposure mode: auto, full, search or dynamic."
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
    no_dense: bool = typer.Option(False, "--no-dense", help="BM25 only: never load the embedding model."),
) -> None:
    """Run UCP.

    Example: ucp serve                      (stdio, what a host launches)
    Example: ucp serve --transport http --port 8765
    """
    loaded, paths = load(config)
    cfg = loaded.config
    if mode is not None:
        cfg = cfg.model_copy(update={"exposure": cfg.exposure.model_copy(update={"mode": mode.value})})
    level = os.environ.get("UCP_LOG_LEVEL", log_level)
    try:
        paths.ensure()
        log_file = paths.log_file
    except OSError as exc:
        fail(f"cannot create the UCP home {paths.home}: {exc}", hint="set UCP_HOME to a writable directory")
    ucp_log.configure(level, log_file=log_file)
    use_http = transport == TransportChoice.http and not stdio
    bind_host = host or cfg.http.host
    bind_port = port if port is not None else cfg.http.port
    if use_http:
        from ucp.frontend.http import check_bind
        from ucp.identity.authenticator import Authenticator

        try:
            check_bind(bind_host, Authenticator(cfg.auth, cfg.http, os.environ, key_file=paths.keys).enabled)
        except UCPError as exc:
            fail_error(exc)

    async def main() -> None:
        # Spawn stdio servers first: they start while UCP imports the MCP SDK (cold start).
        from ucp.downstream.prespawn import prespawn

        early = await prespawn(cfg.servers, logs_dir=paths.logs_dir)
        from ucp.app import Gateway, serve_http, serve_stdio

        async with Gateway(
            cfg,
            paths,
            config_path=loaded.path,
            watch_config=True,
            dense=False if no_dense else None,
            prespawned=early,
        ) as gateway:
            if use_http:
                await serve_http(gateway, bind_host, bind_port)
            else:
                await serve_stdio(gateway)

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        pass
