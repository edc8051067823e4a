"""``ucp install HOST``: put UCP into a host's MCP config (the library half is ``ucp.config.hosts``)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from ucp.cli.common import console, err_console, fail_error, print_json
from ucp.config.hosts import (
    ENTRY_NAME,
    HOSTS,
    apply_install,
    host_config_path,
    plan_install,
    snippet,
    ucp_entry,
)
from ucp.config.registry import parse_pairs
from ucp.errors import UCPError


class HostChoice(str, Enum):
    claude_desktop = "claude-desktop"
    claude_code = "claude-code"
    cursor = "cursor"
    vscode = "vscode"


def install(
    host: Annotated[HostChoice, typer.Argument(help="claude-desktop, claude-code, cursor or vscode.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the change as a diff; write nothing.")
    ] = False,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the snippet to paste by hand; touch nothing.")
    ] = False,
    project: Annotated[
        bool,
        typer.Option(
            "--project",
            help="Write the current folder's project file (.mcp.json, .cursor/mcp.json, .vscode/mcp.json) instead of the user's.",
        ),
    ] = False,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            help="Install an HTTP entry for a running `ucp serve --transport http`, e.g. http://127.0.0.1:8765/mcp.",
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="'Name: value' for the --http entry (repeatable)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing, different 'ucp' entry.")
    ] = False,
    file: Annotated[
        Path | None, typer.Option("--file", help="Write this host config file instead of the default path.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Install UCP into a host's MCP config (Claude Desktop, Claude Code, Cursor, VS Code).

    Adds a 'ucp' server entry that runs `<absolute path>/ucp serve`, keeps every other key and
    entry, and backs the old file up as <file>.bak-<timestamp>. Files: Claude Code user scope
    ~/.claude.json (--project: ./.mcp.json); Cursor ~/.cursor/mcp.json (--project:
    ./.cursor/mcp.json); VS Code user mcp.json (--project: ./.vscode/mcp.json); Claude Desktop
    claude_desktop_config.json in its app-data folder.

    Example: ucp install claude-desktop --dry-run

    Example: ucp install vscode --project

    Example: ucp install --print cursor
    """
    spec = HOSTS[host.value]
    try:
        headers = parse_pairs(header or [], sep=":", what="header")
        entry = ucp_entry(host.value, http_url=http, headers=headers)
        if print_only:
            print_json(snippet(host.value, entry))
            return
        path = (
            file.expanduser().resolve()
            if file
            else host_config_path(host.value, project=Path.cwd() if project else None)
        )
        plan = plan_install(host.value, entry, path=path, force=force)
        backup = None if dry_run else apply_install(plan)
    except UCPError as exc:
        fail_error(exc)
    if as_json:
        print_json(
            {
                "host": host.value,
                "file": str(plan.path),
                "action": plan.action,
                "dry_run": dry_run,
                "backup": str(backup) if backup else None,
                "entry": entry,
                **({"diff": plan.diff()} if dry_run else {}),
            }
        )
        return
    if plan.action == "unchanged":
        console.print(
            f"{spec.title} already runs UCP: {plan.path} has this '{ENTRY_NAME}' entry; nothing changed.",
            highlight=False,
            soft_wrap=True,
        )
        return
    if dry_run:
        console.print(
            f"[bold]Dry run:[/] would {plan.action} the '{ENTRY_NAME}' entry of {plan.path}"
            f"{' (a new file)' if plan.before is None else ''}; nothing written.",
            highlight=False,
            soft_wrap=True,
        )
        console.print(plan.diff(), highlight=False, markup=False, end="")
        return
    verb = "Installed UCP into" if plan.action == "add" else "Updated UCP in"
    console.print(f"{verb} {spec.title}: {plan.path}", highlight=False, soft_wrap=True)
    console.print(json.dumps({ENTRY_NAME: entry}, indent=2), highlight=False, markup=False)
    if backup:
        err_console.print(f"backup: {backup}", highlight=False, soft_wrap=True)
    err_console.print(f"next: {spec.restart}", highlight=False, soft_wrap=True)
