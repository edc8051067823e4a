"""``ucp serve`` in the full typer CLI (help, completion, the tests' runner); the work is ``ucp.cli.serving``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from ucp.cli import serving


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
    host: str = typer.Option(
        None, "--host", help="HTTP bind address (default 127.0.0.1, or \\[http] host in the registry)."
    ),
    port: int = typer.Option(
        None, "--port", "-p", help="HTTP port (default 8765, or \\[http] port in the registry)."
    ),
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
    workers: int | None = typer.Option(
        None,
        "--workers",
        min=1,
        max=16,
        help="HTTP worker processes (default 1, or \\[http] workers): several use several cores; "
        "downstream servers stay one connection each, in this process.",
    ),
    cli_listener: bool = typer.Option(
        True,
        "--cli-listener/--no-cli-listener",
        help="Over stdio, also listen on a loopback port (bearer token required) so `ucp tools`, "
        "`ucp route explain` and `ucp stats` use this gateway; the port is in $UCP_HOME/state/serve/.",
    ),
) -> None:
    """Run UCP.

    Example: ucp serve                      (stdio, what a host launches)
    Example: ucp serve --transport http --port 8765
    """
    serving.run(
        transport=transport.value,
        stdio=stdio,
        host=host,
        port=port,
        config=config,
        mode=mode.value if mode is not None else None,
        log_level=log_level,
        no_dense=no_dense,
        cli_listener=cli_listener,
        workers=workers,
    )
