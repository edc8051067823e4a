"""``ucp registry``: which servers UCP fronts. Reads go through the loader; every change
is one ``RegistryStore`` transaction (locked, validated, atomic), so a running
``ucp serve`` reloads it within a second and sends list_changed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import anyio
import tomli_w
import typer
from rich.markup import escape
from rich.table import Table

from ucp.cli.common import EXIT_FAILURE, console, err_console, fail, fail_error, load, print_json
from ucp.cli.tools import ConfigOption, JsonOption, TimeoutOption, ensure_home, probe_servers
from ucp.config.hosts import ExportFormat, export_servers
from ucp.config.known_servers import get_known, load_catalog
from ucp.config.loader import env_is_set, env_refs, read_config_file
from ucp.config.models import Config, HttpServer, ServerConfig, SseServer, StdioServer, UtcpServer
from ucp.config.paths import config_path, default_paths
from ucp.config.registry import RegistryStore, build_server, parse_pairs, resolve_command, server_to_toml
from ucp.errors import UCPError
from ucp.naming import suggest

app = typer.Typer(
    help="Manage the servers UCP fronts (the registry file $UCP_HOME/ucp.toml).\n\n"
    "Example: ucp registry add time -- mcp-server-time",
    no_args_is_help=True,
)


def complete_server(incomplete: str) -> list[str]:
    """Shell completion of registered server names (from the default registry)."""
    try:
        names = list(read_config_file(config_path(None)).config.servers)
    except UCPError:
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_catalog(incomplete: str) -> list[str]:
    try:
        return [n for n in load_catalog() if n.startswith(incomplete)]
    except UCPError:
        return []


def store_for(config: Path | None) -> RegistryStore:
    return RegistryStore(config_path(config))


def target(server: ServerConfig) -> str:
    if isinstance(server, StdioServer):
        return " ".join([server.command, *server.args])
    if isinstance(server, (HttpServer, SseServer)):
        return server.url
    assert isinstance(server, UtcpServer)
    return server.manual


def server_dict(server: ServerConfig) -> dict[str, Any]:
    return {"name": server.name, **server_to_toml(server), "enabled": server.enabled}


def note_env(server: ServerConfig) -> None:
    """Point out ${VAR} references that are not set in this shell (they must be where serve runs)."""
    refs = sorted(r for r in {r for v in _strings(server) for r in env_refs(v)} if not env_is_set(r))
    if refs:
        err_console.print(
            f"[dim]note:[/] {', '.join('${' + r + '}' for r in refs)} not set in this shell; "
            "set it where `ucp serve` runs",
            highlight=False,
            soft_wrap=True,
        )


def _strings(server: ServerConfig) -> list[str]:
    out: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(server.model_dump(mode="json"))
    return out


def _done(message: str, store: RegistryStore) -> None:
    from ucp.cli.audit import record_admin

    record_admin("registry_changed", detail=message, file=str(store.path))
    console.print(f"{message} in {store.path}", highlight=False, soft_wrap=True)


@app.command("add")
def add(
    name: Annotated[
        str | None,
        typer.Argument(metavar="NAME", help="Server name (tools become NAME__tool).", show_default=False),
    ] = None,
    command: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="-- COMMAND ARGS", help="stdio: the command to run, after --.", show_default=False
        ),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="HTTP(S) endpoint of a remote server.")] = None,
    transport: Annotated[
        str | None,
        typer.Option("--transport", help="http or sse (default: sse if the URL ends in /sse, else http)."),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header", "-H", help="'Name: value' sent with every request (repeatable; ${VAR} kept)."
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-e", help="KEY=VALUE for the server process (repeatable; ${VAR} kept)."),
    ] = None,
    cwd: Annotated[str | None, typer.Option("--cwd", help="Working directory of the server process.")] = None,
    from_catalog: Annotated[
        str | None,
        typer.Option(
            "--from-catalog",
            help="Add a well-known server from the catalog (`ucp registry catalog`).",
            autocompletion=complete_catalog,
        ),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="What this server is for.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="A tag the router indexes (repeatable).")
    ] = None,
    call_timeout: Annotated[
        float | None, typer.Option("--call-timeout", help="Per-call timeout in seconds (default 60).")
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Register it disabled.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a server of the same name.")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Register a server: a stdio command, a remote URL, or a catalog entry.

    Example: ucp registry add time -- mcp-server-time --local-timezone UTC

    Example: ucp registry add docs --url https://example.com/mcp --header "Authorization: Bearer ${DOCS_TOKEN}"

    Example: ucp registry add --from-catalog memory

    Example: ucp registry add fs --from-catalog filesystem -- ~/projects
    """
    store = store_for(config)
    extra: dict[str, Any] = {}
    if description is not None:
        extra["description"] = description
    if tag:
        extra["tags"] = list(tag)
    if call_timeout is not None:
        extra["timeout"] = call_timeout
    if disabled:
        extra["enabled"] = False
    try:
        env_map = parse_pairs(env or [], sep="=", what="env")
        headers = parse_pairs(header or [], sep=":", what="header")
        if cwd is not None and "${" not in cwd:
            folder = Path(cwd).expanduser().resolve()
            if not folder.is_dir():
                fail(f"--cwd {cwd}: no such directory")
            cwd = str(folder)
        if transport is not None and transport not in ("http", "sse"):
            fail(f"--transport must be http or sse, not {transport!r}")
        if from_catalog is not None:
            if url or headers or transport or cwd:
                fail(
                    "--from-catalog takes the launch from the catalog; only --env and extra arguments (after --) apply"
                )
            known = get_known(from_catalog)
            server = known.to_server(name, extra_args=command or (), env=env_map)
            if extra:
                server = server.model_copy(update=extra)
        else:
            if name is None:
                fail(
                    "give the server a NAME",
                    hint="ucp registry add NAME -- COMMAND [ARGS]...  or  ucp registry add NAME --url URL",
                )
            server = build_server(
                name,
                command=command or (),
                env=env_map,
                cwd=cwd,
                url=url,
                headers=headers,
                transport=transport,
                extra=extra,
            )
        server, command_note = resolve_command(server)
        replaced = store.add(server, replace=replace)
    except UCPError as exc:
        fail_error(exc)
    if as_json:
        print_json(
            {
                "added": server.name,
                "replaced": replaced,
                "file": str(store.path),
                "server": server_dict(server),
                "note": command_note,
            }
        )
        return
    _done(
        f"{'Replaced' if replaced else 'Added'} server {server.name!r} ({server.type}: {target(server)})",
        store,
    )
    if command_note:
        warn = "not found" in command_note or "does not exist" in command_note
        err_console.print(
            f"[{'yellow' if warn else 'dim'}]{'warning' if warn else 'note'}:[/] {escape(command_note)}",
            highlight=False,
            soft_wrap=True,
        )
    note_env(server)


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The server to remove.", autocompletion=complete_server)],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Unregister a server (a running `ucp serve` stops it).

    Example: ucp registry remove time
    """
    store = store_for(config)
    try:
        store.remove(name)
    except UCPError as exc:
        fail_error(exc)
    if as_json:
        print_json({"removed": name, "file": str(store.path)})
    else:
        _done(f"Removed server {name!r}", store)


def _set_enabled(name: str, enabled: bool, as_json: bool, config: Path | None) -> None:
    store = store_for(config)
    try:
        changed = store.set_enabled(name, enabled)
    except UCPError as exc:
        fail_error(exc)
    word = "enabled" if enabled else "disabled"
    retried = enabled and _request_unpark(name)
    if as_json:
        print_json(
            {"name": name, "enabled": enabled, "changed": changed, "retry": retried, "file": str(store.path)}
        )
    elif changed:
        _done(f"Server {name!r} {word}", store)
    elif retried:
        console.print(
            f"Server {name!r} was already enabled; a running `ucp serve` retries it now if it was parked.",
            highlight=False,
        )
    else:
        console.print(f"Server {name!r} was already {word}; nothing changed.", highlight=False)


def _request_unpark(name: str) -> bool:
    """Tell a running `ucp serve` to retry a parked server (a file under state/enable/)."""
    from ucp.config.models import SERVER_NAME_RE

    if not SERVER_NAME_RE.match(name):
        return False
    directory = default_paths().enable_requests
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text("")
    except OSError:
        return False
    return True


@app.command("enable")
def enable(
    name: Annotated[str, typer.Argument(help="The server to enable.", autocompletion=complete_server)],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Enable a disabled server (a running `ucp serve` starts it).

    Example: ucp registry enable time
    """
    _set_enabled(name, True, as_json, config)


@app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The server to disable.", autocompletion=complete_server)],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Disable a server but keep its entry (a running `ucp serve` stops it).

    Example: ucp registry disable time
    """
    _set_enabled(name, False, as_json, config)


@app.command("list")
def list_servers(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """List the registered servers.

    Example: ucp registry list --json
    """
    loaded, _ = load(config)
    servers = list(loaded.config.servers.values())
    if as_json:
        print_json([server_dict(s) for s in servers])
        return
    table = Table(title=f"{len(servers)} servers in {loaded.path}", title_justify="left")
    for col in ("name", "type", "enabled", "command / url", "description"):
        table.add_column(col, overflow="fold")
    for s in servers:
        table.add_row(
            s.name, s.type, "yes" if s.enabled else "[dim]no[/]", escape(target(s)), escape(s.description)
        )
    console.print(table)
    if not loaded.writable:
        err_console.print(
            f"[dim]note:[/] {loaded.path} is a host config: read-only for `ucp registry`", highlight=False
        )
    for skipped in loaded.skipped:
        err_console.print(f"[dim]skipped[/] {skipped.name}: {skipped.reason}", highlight=False)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The server to show.", autocompletion=complete_server)],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Show one server's entry, as written in the registry.

    Example: ucp registry show time
    """
    loaded, _ = load(config)
    server = loaded.config.servers.get(name)
    if server is None:
        near = suggest(name, list(loaded.config.servers))
        fail(
            f"no server {name!r} in {loaded.path}",
            hint=f"did you mean: {', '.join(near)}?" if near else "ucp registry list",
        )
    if as_json:
        print_json(server_dict(server))
        return
    typer.echo(tomli_w.dumps({"servers": {name: server_to_toml(server)}}), nl=False)


@app.command("catalog")
def catalog(as_json: JsonOption = False) -> None:
    """List the well-known servers `ucp registry add --from-catalog NAME` can add.

    Example: ucp registry catalog
    """
    try:
        entries = load_catalog()
    except UCPError as exc:
        fail_error(exc)
    if as_json:
        print_json([e.to_dict() for e in entries.values()])
        return
    table = Table(title=f"{len(entries)} catalog servers", title_justify="left")
    for col in ("name", "description", "requires", "add with"):
        table.add_column(col, overflow="fold")
    for e in entries.values():
        table.add_row(e.name, escape(e.description), escape("; ".join(e.requires)), escape(e.usage))
    console.print(table)


def _host_of(file: Path, host: str | None) -> str:
    """The host a config file belongs to: ``--host``, else the host whose file it is, else
    the host its format implies (``servers`` -> vscode, ``mcpServers`` -> claude-code...)."""
    from ucp.config.hosts import HOSTS, host_config_path

    if host is not None:
        if host not in HOSTS:
            fail(f"unknown host {host!r}", hint=f"one of {', '.join(HOSTS)}")
        return host
    resolved = file.expanduser().resolve()
    for h in HOSTS.values():
        candidates = [host_config_path(h.id)]
        if h.project:
            candidates.append(host_config_path(h.id, project=resolved.parent.parent))
            candidates.append(host_config_path(h.id, project=resolved.parent))
        if resolved in {c.resolve() for c in candidates}:
            return h.id
    suffix = resolved.suffix.lower()
    if suffix == ".toml":
        return "codex"
    if suffix in (".yaml", ".yml"):
        return "goose"
    try:
        from ucp.config import jsonc

        data = jsonc.loads(resolved.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        data = {}
    if isinstance(data, dict) and "context_servers" in data:
        return "zed"
    if isinstance(data, dict) and "servers" in data and "mcpServers" not in data:
        return "vscode"
    return "claude-code"


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="A host config: mcpServers JSON (Claude Desktop, Claude Code, Cursor, Windsurf, Cline), VS Code "
            "or Zed JSONC, Codex TOML, goose YAML."
        ),
    ],
    move: Annotated[
        bool,
        typer.Option(
            "--move",
            help="Move, don't copy: the file is left with only UCP (backup kept; `ucp uninstall HOST` restores it).",
        ),
    ] = False,
    host: Annotated[
        str | None,
        typer.Option("--host", help="The host the file belongs to (default: from its path and format)."),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite servers of the same name.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be imported; write nothing.")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Take the servers of a host config into the registry.

    Bare commands become absolute paths (hosts start UCP with a minimal PATH); literal secrets in
    env and headers move to $UCP_HOME/.env (mode 0600) as ${VAR} references. Reports what was
    added, renamed, and skipped and why. With --move the host file is left with only UCP.

    Example: ucp registry import --move ~/.cursor/mcp.json

    Example: ucp registry import ~/.config/Claude/claude_desktop_config.json --dry-run
    """
    from ucp.cli.install import _report_take_over
    from ucp.config.hostfile import parse, read_text
    from ucp.config.hosts import generic_entries, ucp_entry
    from ucp.config.paths import default_paths
    from ucp.config.takeover import _Convert, take_over

    store = store_for(config)
    path = file.expanduser().resolve()
    if not path.is_file():
        fail(f"cannot read {file}: no such file")
    host_id = _host_of(path, host)
    home = default_paths().home
    try:
        from ucp.config.hosts import get_host

        key = get_host(host_id).key
        if key not in parse(host_id, read_text(path), file=str(path)):
            fail(
                f"{file} is not a host config: expected its servers under '{key}' ({get_host(host_id).title}); "
                "mcpServers (Claude, Cursor, Windsurf, Cline), servers (VS Code), context_servers (Zed), "
                "mcp_servers (Codex) or extensions (goose)",
                hint="--host HOST says which host the file belongs to",
            )
        if move:
            taken = take_over(
                host_id, path, store, home, ucp_entry(host_id), dry_run=dry_run, replace=replace, force=False
            )
            report = taken.report
        else:
            from ucp.config.secrets import dotenv_path, read_dotenv, write_dotenv

            data = {"mcpServers": generic_entries(host_id, parse(host_id, read_text(path), file=str(path)))}
            env_file = dotenv_path(home)
            existing = read_dotenv(env_file)
            convert = _Convert(existing)
            store.import_host(data, source=str(file), replace=replace, dry_run=True, transform=convert)
            if not dry_run and convert.new_values():
                write_dotenv(env_file, convert.new_values())
            convert = _Convert(existing)
            report = store.import_host(
                data, source=str(file), replace=replace, dry_run=dry_run, transform=convert
            )
            from ucp.config.hostfile import plan_install
            from ucp.config.takeover import TakeOver

            taken = TakeOver(
                host_id,
                path,
                report,
                plan_install(host_id, ucp_entry(host_id), path=path, force=True),
                convert.secrets,
                convert.notes,
                env_file if convert.secrets else None,
            )
    except UCPError as exc:
        fail_error(exc)
    if as_json:
        print_json({**taken.to_dict(), "registry": str(store.path), "dry_run": dry_run, "moved": move})
        return
    if move:
        _report_take_over(taken, dry_run)
        if not dry_run and taken.plan.changes:
            console.print(
                f"{file} now runs only UCP (backup: {taken.backup}); undo: ucp uninstall {host_id}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    else:
        verb = "Would add" if dry_run else "Added"
        console.print(
            f"{verb} {len(report.added)} server(s) from {file}: {', '.join(report.added) or '-'}",
            highlight=False,
        )
        if report.replaced:
            console.print(
                f"{'Would replace' if dry_run else 'Replaced'}: {', '.join(report.replaced)}", highlight=False
            )
        for name, note in taken.notes.items():
            console.print(f"  {name}: {note}", highlight=False, markup=False, soft_wrap=True)
        for s in report.skipped:
            console.print(f"[yellow]skipped[/] {s.name}: {escape(s.reason)}", highlight=False)
        if taken.secrets:
            console.print(
                f"Moved {len(taken.secrets)} secret(s) into {taken.env_file} (mode 0600), referenced as ${{VAR}}: "
                + ", ".join(f"{s.server} {s.where}.{s.key} -> ${{{s.var}}}" for s in taken.secrets),
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        if report.moved_keys() and not dry_run:
            console.print(
                f"The host still runs them too: `ucp registry import --move {file}` (or `ucp install {host_id} "
                "--take-over`) leaves it with only UCP.",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    for old, new in report.renamed.items():
        console.print(
            f"renamed {old!r} -> {new!r} (server names allow letters, digits, '-', '_')", highlight=False
        )
    if report.written:
        console.print(f"Registry: {store.path}", highlight=False)


@app.command("export")
def export(
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="claude (Claude Desktop / Claude Code), cursor or vscode.")
    ] = "claude",
    config: ConfigOption = None,
) -> None:
    """Print the enabled servers as a host config (JSON on stdout).

    Example: ucp registry export --format vscode > .vscode/mcp.json
    """
    if fmt not in ("claude", "cursor", "vscode"):
        fail(f"--format must be claude, cursor or vscode, not {fmt!r}")
    loaded, _ = load(config)
    data, skipped = export_servers(loaded.config, cast(ExportFormat, fmt))
    print_json(data)
    for s in skipped:
        err_console.print(f"[dim]skipped[/] {s.name}: {s.reason}", highlight=False)


@app.command("check")
def check(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Only this server (default: every enabled server).", autocompletion=complete_server
        ),
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    timeout: TimeoutOption = 30.0,
) -> None:
    """Connect to servers: status, tool count, connect latency, errors.

    Exits 1 if any server fails to connect.

    Example: ucp registry check time
    """
    loaded, paths = load(config)
    cfg: Config = loaded.config
    if name is not None and name not in cfg.servers:
        near = suggest(name, list(cfg.servers))
        fail(
            f"no server {name!r} in {loaded.path}",
            hint=f"did you mean: {', '.join(near)}?" if near else "ucp registry list",
        )
    names = {name} if name else None
    probes = anyio.run(probe_servers, cfg, ensure_home(paths), names, timeout)
    if as_json:
        print_json([p.to_dict() for p in probes])
    else:
        table = Table(title=f"{len(probes)} server(s)", title_justify="left")
        for col in ("name", "status", "tools", "latency", "error"):
            table.add_column(col, overflow="fold")
        for p in probes:
            status = "[green]ok[/]" if p.ok else f"[red]{p.state}[/]"
            latency = f"{p.latency_ms:.0f} ms" if p.latency_ms is not None else "-"
            table.add_row(p.name, status, str(p.tools), latency, escape(p.error or ""))
        console.print(table)
        if not probes:
            console.print("No enabled servers to check.")
    if any(not p.ok for p in probes):
        raise typer.Exit(EXIT_FAILURE)
