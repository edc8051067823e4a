"""Helpers every CLI command shares: loading config, printing errors, JSON output, and how
``--help`` shows option types."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ucp.config.loader import LoadedConfig, read_config_file
from ucp.config.paths import Paths, config_path, default_paths
from ucp.errors import UCPError

_LIST_TYPE = re.compile(r"^<list\[(.+)\]>$")


def _friendly_help_types() -> None:
    """Typer prints a repeatable option's type as ``<list[str]>`` and every flag as ``<bool>``;
    show ``<str>...`` (the click convention for "repeat me") and nothing for a flag. An explicit
    ``metavar`` still wins."""
    from typer.core import TyperArgument, TyperOption

    base_argument = TyperArgument.display_type_rich
    base_option = TyperOption.display_type_rich

    def tidy(label: str | None) -> str | None:
        match = _LIST_TYPE.match(label or "")
        return f"<{match.group(1)}>..." if match else label

    def argument(self: TyperArgument, ctx: Any) -> str | None:
        return tidy(base_argument(self, ctx))

    def option(self: TyperOption, ctx: Any) -> str | None:
        if self.is_bool_flag and self.metavar is None:
            return None
        return tidy(base_option(self, ctx))

    TyperArgument.display_type_rich = argument  # type: ignore[method-assign,assignment]
    TyperOption.display_type_rich = option  # type: ignore[method-assign]


_friendly_help_types()

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
