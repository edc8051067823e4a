"""Helpers every CLI command shares: loading config, printing errors, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ucp.config.loader import LoadedConfig, read_config_file
from ucp.config.paths import Paths, config_path, default_paths
from ucp.errors import UCPError

console = Console()
err_console = Console(stderr=True)

EXIT_USAGE = 2
EXIT_FAILURE = 1


def fail(message: str, *, code: int = EXIT_USAGE, hint: str | None = None) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint:[/] {escape(hint)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def fail_error(exc: UCPError, *, code: int = EXIT_USAGE) -> NoReturn:
    fail(f"{exc.message} [{exc.code}]", code=code)


def load(config: Path | None) -> tuple[LoadedConfig, Paths]:
    paths = default_paths()
    try:
        loaded = read_config_file(config_path(config))
    except UCPError as exc:
        fail_error(exc)
    return loaded, paths


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
