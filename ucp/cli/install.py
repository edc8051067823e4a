"""``ucp install HOST`` / ``ucp uninstall HOST``: put UCP into a host's MCP config and take it
out again (the library half is ``ucp.config.hosts``, ``hostfile``, ``installs``, ``takeover``)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ucp.cli.common import console, err_console, fail, fail_error, print_json
from ucp.config.hostfile import (
    apply_install,
    digest,
    keeps_comments,
    plan_install,
    read_text,
    replace_file,
    servers_in,
)
from ucp.config.hosts import ENTRY_NAME, HOSTS, host_config_path, snippet, ucp_entry
from ucp.config.installs import drop_record, load_records, plan_uninstall, save_record
from ucp.config.paths import config_path, default_paths
from ucp.config.registry import RegistryStore, parse_pairs
from ucp.config.takeover import TakeOver, take_over
from ucp.errors import UCPError

HostChoice = Enum("HostChoice", {h.replace("-", "_"): h for h in HOSTS}, type=str)  # type: ignore[misc]
HOST_LIST = ", ".join(HOSTS)


def _path(host: str, file: Path | None, project: bool) -> Path:
    if file:
        return file.expanduser().resolve()
    return host_config_path(host, project=Path.cwd() if project else None)


def host_rows() -> list[dict[str, Any]]:
    """Every known host: its file (user scope, and this folder's project file), whether it
    exists, how many servers it has and whether one of them is UCP."""
    rows = []
    for host in HOSTS.values():
        scopes = [("user", host_config_path(host.id))]
        if host.project:
            scopes.append(("project", host_config_path(host.id, project=Path.cwd())))
        for scope, path in scopes:
            row: dict[str, Any] = {"host": host.id, "title": host.title, "scope": scope, "file": str(path)}
            try:
                servers = servers_in(host.id, read_text(path), file=str(path))
                row.update(present=path.exists(), servers=len(servers), uses_ucp=ENTRY_NAME in servers)
            except UCPError as exc:
                row.update(present=True, servers=None, uses_ucp=False, error=exc.message)
            if scope == "project" and not row["present"]:
                continue
            rows.append(row)
    return rows


def _print_list(as_json: bool) -> None:
    rows = host_rows()
    if as_json:
        print_json(rows)
        return
    table = Table(title="hosts (ucp install HOST adds UCP; --take-over moves the host's servers in)")
    for col in ("host", "scope", "file", "present", "servers", "uses ucp"):
        table.add_column(col, overflow="fold")
    for r in rows:
        servers = "?" if r["servers"] is None else str(r["servers"])
        table.add_row(
            r["host"],
            r["scope"],
            escape(r["file"]),
            "yes" if r["present"] else "[dim]no[/]",
            servers if r["present"] else "-",
            "[green]yes[/]" if r["uses_ucp"] else "no",
        )
    console.print(table)


def _report_take_over(t: TakeOver, dry_run: bool) -> None:
    r = t.report
    moved = r.moved_keys()
    verb = "Would move" if dry_run else "Moved"
    console.print(
        f"{verb} {len(moved)} server(s) from {t.path} into UCP: {', '.join(moved) or '-'}",
        highlight=False,
        soft_wrap=True,
    )
    for name, note in t.notes.items():
        console.print(f"  {name}: {note}", highlight=False, markup=False, soft_wrap=True)
    for s in r.skipped:
        console.print(
            f"[yellow]left in the host[/] {s.name}: {escape(s.reason)}", highlight=False, soft_wrap=True
        )
    if t.secrets:
        where = t.env_file or default_paths().home / ".env"
        console.print(
            f"{'Would move' if dry_run else 'Moved'} {len(t.secrets)} secret(s) out of the config into {where} "
            "(mode 0600), referenced as ${VAR}:",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for m in t.secrets:
            console.print(f"  {m.server} {m.where}.{m.key} -> ${{{m.var}}}", highlight=False, markup=False)


def install(
    host: Annotated[
        HostChoice | None, typer.Argument(help=f"One of: {HOST_LIST}.", show_default=False)
    ] = None,
    list_hosts: Annotated[
        bool,
        typer.Option("--list", help="Show every known host: its file, its servers, whether it uses UCP."),
    ] = False,
    take_over_: Annotated[
        bool,
        typer.Option(
            "--take-over",
            help="Move the host's servers into UCP (secrets to $UCP_HOME/.env) and leave the host with only "
            "UCP; `ucp uninstall HOST` restores the file exactly.",
        ),
    ] = False,
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
            help="Write the current folder's project file (.mcp.json, .cursor/mcp.json, .vscode/mcp.json, "
            ".zed/settings.json, .codex/config.toml) instead of the user's.",
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
        typer.Option(
            "--header", "-H", metavar="'NAME: VALUE'", help="A header for the --http entry (repeatable)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing, different 'ucp' entry.")
    ] = False,
    file: Annotated[
        Path | None, typer.Option("--file", help="Write this host config file instead of the default path.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Install UCP into a host's MCP config.

    Adds a 'ucp' server entry that runs `<absolute path>/ucp serve`, keeps every other key, entry
    and comment, and backs the old file up as <file>.bak-<timestamp>. `ucp install --list` shows
    each host's file.

    Example: ucp install claude-desktop --dry-run

    Example: ucp install cursor --take-over

    Example: ucp install vscode --project

    Example: ucp install --print zed
    """
    if list_hosts:
        _print_list(as_json)
        return
    if host is None:
        fail(
            "name the host",
            hint=f"ucp install HOST with HOST one of {HOST_LIST}; ucp install --list shows them",
        )
    host_id = str(host.value)
    spec = HOSTS[host_id]
    taken: TakeOver | None = None
    try:
        headers = parse_pairs(header or [], sep=":", what="header")
        entry = ucp_entry(host_id, http_url=http, headers=headers)
        if print_only:
            print_json(snippet(host_id, entry))
            return
        path = _path(host_id, file, project)
        home = default_paths().home
        if take_over_:
            store = RegistryStore(config_path(None))
            taken = take_over(host_id, path, store, home, entry, dry_run=dry_run, force=force)
            plan, backup = taken.plan, taken.backup
        else:
            plan = plan_install(host_id, entry, path=path, force=force)
            backup = None if dry_run else apply_install(plan)
            if not dry_run and plan.changes:
                save_record(home, host_id, path, backup, digest(plan.after) or "", [])
    except UCPError as exc:
        fail_error(exc)
    if as_json:
        print_json(
            {
                "host": host_id,
                "file": str(plan.path),
                "action": plan.action,
                "dry_run": dry_run,
                "backup": str(backup) if backup else None,
                "entry": entry,
                **({"take_over": taken.to_dict()} if taken else {}),
                **({"diff": plan.diff()} if dry_run else {}),
            }
        )
        return
    if taken is not None:
        _report_take_over(taken, dry_run)
    if not plan.changes:
        console.print(
            f"{spec.title} already runs UCP: {plan.path} has this '{ENTRY_NAME}' entry; nothing changed.",
            highlight=False,
            soft_wrap=True,
        )
        return
    if dry_run:
        console.print(
            f"[bold]Dry run:[/] would {plan.action} the '{ENTRY_NAME}' entry of {escape(str(plan.path))}"
            f"{' (a new file)' if plan.before is None else ''}; nothing written.",
            highlight=False,
            soft_wrap=True,
        )
        console.print(plan.diff(), highlight=False, markup=False, end="")
        return
    verb = "Installed UCP into" if plan.action == "add" else "Updated UCP in"
    console.print(f"{verb} {spec.title}: {plan.path}", highlight=False, markup=False, soft_wrap=True)
    console.print(json.dumps({ENTRY_NAME: entry}, indent=2), highlight=False, markup=False)
    if backup:
        err_console.print(f"backup: {backup}", highlight=False, markup=False, soft_wrap=True)
    if not keeps_comments(host_id) and plan.before:
        err_console.print(
            "note: this YAML file was re-written: its comments are only in the backup", highlight=False
        )
    err_console.print(f"undo: ucp uninstall {host_id}{' --project' if project else ''}", highlight=False)
    err_console.print(f"next: {spec.restart}", highlight=False, markup=False, soft_wrap=True)


def uninstall(
    host: Annotated[HostChoice, typer.Argument(help=f"One of: {HOST_LIST}.", show_default=False)],
    project: Annotated[
        bool, typer.Option("--project", help="The current folder's project file instead of the user's.")
    ] = False,
    file: Annotated[Path | None, typer.Option("--file", help="This host config file.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the change as a diff; write nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Take UCP out of a host's config: restores the file exactly as it was before `ucp install`
    (from its backup) when it has not changed since; otherwise removes only the 'ucp' entry and
    puts back the servers `--take-over` moved. The servers stay in UCP's registry.

    Example: ucp uninstall cursor --dry-run
    """
    host_id = str(host.value)
    spec = HOSTS[host_id]
    home = default_paths().home
    try:
        path = _path(host_id, file, project)
        record = load_records(home).get(str(path))
        plan = plan_uninstall(host_id, path, record)
        backup = None
        if not dry_run and plan.action != "absent":
            backup = replace_file(path, plan.before, plan.after)
        if not dry_run:
            drop_record(home, path)
    except UCPError as exc:
        fail_error(exc)
    if as_json:
        print_json({**plan.to_dict(), "dry_run": dry_run, "backup": str(backup) if backup else None})
        return
    if plan.action == "absent":
        console.print(
            f"{spec.title} does not use UCP ({path}); nothing changed.", highlight=False, markup=False
        )
        return
    if dry_run:
        console.print(f"Dry run: would {plan.action} {path}; nothing written.", highlight=False, markup=False)
        console.print(plan.diff(), highlight=False, markup=False, end="")
        return
    if plan.action == "restore":
        what = "deleted (it did not exist before UCP)" if plan.after is None else "restored from its backup"
        console.print(f"Removed UCP from {spec.title}: {path} {what}.", highlight=False, markup=False)
    else:
        console.print(
            f"Removed the '{ENTRY_NAME}' entry from {path} (it changed since the install, so it was not restored "
            "from the backup)" + (f"; put back: {', '.join(plan.restored)}" if plan.restored else ""),
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if plan.restored:
        err_console.print(
            f"note: {', '.join(plan.restored)} are also still in UCP's registry; `ucp registry remove NAME` "
            "if the host should be the only one running them",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    err_console.print(f"next: {spec.restart}", highlight=False, markup=False, soft_wrap=True)
