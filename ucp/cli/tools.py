"""``ucp tools``: list, search, describe and call tools from the terminal, through the same
pool, catalog and router as ``ucp serve`` (an in-process gateway that starts only the
servers a command needs)."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import anyio
import typer
from rich.markup import escape
from rich.table import Table

from ucp import log as ucp_log
from ucp.cli.common import EXIT_FAILURE, console, err_console, fail, fail_error, load, print_json
from ucp.cli.remote import LocalOption, Remote, UrlOption, connect
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.errors import InvalidArgumentsError, UCPError, UnknownToolError
from ucp.naming import SEPARATOR, suggest
from ucp.session.text import one_line, signature

if TYPE_CHECKING:  # heavy (the MCP SDK): imported where used, so `ucp registry ...` starts fast
    import mcp_types as types

    from ucp.app import Gateway

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Registry or host config file (default $UCP_HOME/ucp.toml; env UCP_CONFIG)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.1, help="Seconds to wait for servers to connect.")
]

app = typer.Typer(
    help="List, search, describe and call tools through UCP.\n\n"
    'Example: ucp tools call time__get_current_time --args \'{"timezone": "UTC"}\'',
    no_args_is_help=True,
)

BUILTIN = "cloud"


# ---------------------------------------------------------------- a gateway for one command
def quiet_logs() -> None:
    """Gateway logs go to stderr at ``error`` level (``UCP_LOG_LEVEL`` overrides)."""
    ucp_log.configure(os.environ.get("UCP_LOG_LEVEL", "error"), stream=sys.stderr)


def subset(cfg: Config, names: set[str] | None, *, builtins: bool) -> Config:
    """``cfg`` with only ``names`` (enabled for the run), or every enabled server when ``None``."""
    if names is None:
        servers = {n: s for n, s in cfg.servers.items() if s.enabled}
    else:
        servers = {n: s.model_copy(update={"enabled": True}) for n, s in cfg.servers.items() if n in names}
    return cfg.model_copy(update={"servers": servers, "builtins": builtins})


def ensure_home(paths: Paths) -> Paths:
    try:
        return paths.ensure()
    except OSError as exc:
        fail(f"cannot create the UCP home {paths.home}: {exc}", hint="set UCP_HOME to a writable directory")


@asynccontextmanager
async def open_gateway(
    cfg: Config, paths: Paths, *, timeout: float, dense: bool = False
) -> AsyncIterator[Gateway]:
    """A running gateway whose servers made their first connection attempt (or ``timeout`` passed)."""
    quiet_logs()
    from ucp.app import Gateway

    async with Gateway(cfg, paths, dense=dense) as gateway:
        count = len(gateway.pool.connections)
        with err_console.status(f"connecting to {count} server{'s' * (count != 1)}…"):
            await gateway.wait_ready(timeout, live=True)
        yield gateway


@dataclass(frozen=True)
class Probe:
    """One server's connection check."""

    name: str
    kind: str
    ok: bool
    state: str
    tools: int
    latency_ms: float | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def probe_servers(cfg: Config, paths: Paths, names: set[str] | None, timeout: float) -> list[Probe]:
    """Connect to servers (builtins excluded) and report state, tool count, connect latency, error."""
    sub = subset(cfg, names, builtins=False)
    quiet_logs()
    latency: dict[str, float] = {}
    from ucp.app import Gateway

    async with Gateway(sub, paths, dense=False) as gateway:
        started = time.perf_counter()

        async def watch(name: str, event: anyio.Event) -> None:
            with anyio.move_on_after(timeout):
                await event.wait()
                latency[name] = round((time.perf_counter() - started) * 1000, 1)

        with err_console.status(f"checking {len(sub.servers)} server(s)…"):
            async with anyio.create_task_group() as tg:
                for name, conn in gateway.pool.connections.items():
                    tg.start_soon(watch, name, conn.first_attempt_done)
        statuses = gateway.pool.status()
    out = []
    for st in statuses:
        error = st.last_error if not st.healthy else None
        if not st.healthy and error is None:
            error = f"no answer within {timeout:g} s (state {st.state})"
        out.append(Probe(st.name, st.kind, st.healthy, st.state, st.tools, latency.get(st.name), error))
    return out


def known_servers(cfg: Config) -> list[str]:
    return [*cfg.servers, *([BUILTIN] if cfg.builtins else [])]


def servers_for(cfg: Config, server: str | None) -> tuple[set[str] | None, bool]:
    """(registry servers to start, whether to start the built-ins) for ``--server``."""
    if server is None:
        return None, cfg.builtins
    if server == BUILTIN and cfg.builtins:
        return set(), True
    if server not in cfg.servers:
        near = suggest(server, known_servers(cfg))
        hint = (
            f"did you mean: {', '.join(near)}?"
            if near
            else "`ucp registry list` shows the registered servers"
        )
        fail(f"no server {server!r} is registered", hint=hint)
    if not cfg.servers[server].enabled:
        fail(f"server {server!r} is disabled", hint=f"ucp registry enable {server}")
    return {server}, False


def servers_for_tool(cfg: Config, name: str) -> tuple[set[str] | None, bool]:
    """Start only the server a tool name points at (``<server>__<tool>``); else every server."""
    prefix = name.split(SEPARATOR, 1)[0] if SEPARATOR in name else None
    if prefix is not None and (prefix in cfg.servers or (prefix == BUILTIN and cfg.builtins)):
        return servers_for(cfg, prefix)
    return None, cfg.builtins


def report_unreachable(gateway: Gateway, only: str | None = None) -> bool:
    """Warn about servers that did not connect; returns whether ``only`` (or any) failed."""
    failed = False
    for st in gateway.pool.status():
        if not st.healthy and (only is None or st.name == only):
            failed = True
            err_console.print(
                f"[yellow]warning:[/] server {st.name!r} is not reachable ({st.state}): "
                f"{st.last_error or 'no answer yet'}",
                highlight=False,
                soft_wrap=True,
            )
    return failed


# ---------------------------------------------------------------- a running gateway
def use_gateway(config: Path | None, url: str | None, local: bool) -> Remote | None:
    try:
        return connect(config, url, local=local)
    except UCPError as exc:
        fail_error(exc, code=EXIT_FAILURE)


T = TypeVar("T")


def ask(request: Callable[[], T]) -> T:
    """One request to the running gateway; unknown tools and invalid arguments raise as in process."""
    try:
        return request()
    except (UnknownToolError, InvalidArgumentsError):
        raise
    except UCPError as exc:
        fail_error(exc, code=EXIT_FAILURE)


# ---------------------------------------------------------------- commands
def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@app.command("list")
def list_tools(
    server: Annotated[str | None, typer.Option("--server", "-s", help="Only this server's tools.")] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    timeout: TimeoutOption = 30.0,
    url: UrlOption = None,
    local: LocalOption = False,
) -> None:
    """List every tool UCP fronts (exposed name, signature, description).

    Uses a running `ucp serve` for this registry when there is one (see --url, --local).

    Example: ucp tools list --server time
    """
    loaded, paths = load(config)
    names, builtins = servers_for(loaded.config, server)
    cfg = subset(loaded.config, names, builtins=builtins)
    remote = use_gateway(config, url, local)

    async def run() -> tuple[list[dict[str, Any]], bool]:
        from ucp.frontend.cli_routes import tool_row

        async with open_gateway(cfg, ensure_home(paths), timeout=timeout) as gw:
            failed = report_unreachable(gw)
            return [tool_row(v) for v in gw.api.tools()], failed

    if remote is not None:
        rows, failed = ask(lambda: remote.get("/api/v1/cli/tools", server=server)["tools"]), False
    else:
        rows, failed = anyio.run(run)
    if as_json:
        print_json(rows)
    else:
        table = Table(title=f"{len(rows)} tools", title_justify="left")
        table.add_column("name", no_wrap=True)
        for col in ("arguments", "description"):
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(r["name"], escape(short(r["signature"])), escape(one_line(r["description"], 100)))
        console.print(table)
    if failed and server is not None:
        raise typer.Exit(EXIT_FAILURE)


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What you want to do, in plain words.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=50, help="How many results.")] = 5,
    server: Annotated[str | None, typer.Option("--server", "-s", help="Only this server's tools.")] = None,
    dense: Annotated[
        bool, typer.Option("--dense/--no-dense", help="Wait for the embedding model (slower start).")
    ] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
    timeout: TimeoutOption = 30.0,
    url: UrlOption = None,
    local: LocalOption = False,
) -> None:
    """Rank tools for a task with UCP's router, as the model's search meta-tool does.

    Uses a running `ucp serve` for this registry when there is one (its router, dense retrieval
    included once loaded; see --url, --local).

    Example: ucp tools search "what time is it in Tokyo" --limit 3
    """
    if not query.strip():
        fail("the query is empty; describe the task in a few words")
    loaded, paths = load(config)
    names, builtins = servers_for(loaded.config, server)
    cfg = subset(loaded.config, names, builtins=builtins)
    remote = use_gateway(config, url, local)

    async def run() -> tuple[str, list[dict[str, Any]]]:
        from ucp.frontend.cli_routes import search_row

        async with open_gateway(cfg, ensure_home(paths), timeout=timeout, dense=dense) as gw:
            report_unreachable(gw)
            if dense:
                with (
                    anyio.move_on_after(max(timeout, 120)),
                    err_console.status("loading the embedding model…"),
                ):
                    while not getattr(gw.router, "dense_ready", True):  # noqa: ASYNC110 - the router has no event for it
                        await anyio.sleep(0.1)
            session = gw.api.open(client_name="ucp-cli", transport="cli", register=False)
            found = await gw.api.search(session, query, limit=limit, server=server, record=False)
            return found.mode, [search_row(v) for v in found.tools]

    if remote is not None:
        answer = ask(lambda: remote.get("/api/v1/cli/search", query=query, limit=limit, server=server))
        mode, rows = answer["mode"], answer["results"]
    else:
        mode, rows = anyio.run(run)
    if as_json:
        print_json({"query": query, "mode": mode, "results": rows})
        return
    if not rows:
        err_console.print("No tools matched. Try other words, or drop --server.")
        return
    table = Table(title=f"tools for {query!r} ({mode})", title_justify="left")
    table.add_column("#")
    table.add_column("name", no_wrap=True)
    for col in ("score", "arguments", "description"):
        table.add_column(col, overflow="fold")
    for i, r in enumerate(rows, 1):
        table.add_row(
            str(i), r["name"], f"{r['score']:.3f}", escape(short(r["signature"])), escape(r["description"])
        )
    console.print(table)


def target_down(gw: Gateway, names: set[str] | None) -> bool:
    """After an unknown tool: was the one server it points at unreachable? (then say so)"""
    return bool(names) and report_unreachable(gw, next(iter(names or ())))


def unknown_tool(exc: UnknownToolError) -> NoReturn:
    near = exc.details.get("suggestions") or []
    fail(
        f"unknown tool {exc.details.get('tool', '')!r}",
        hint=f"did you mean: {', '.join(near)}?"
        if near
        else "`ucp tools list` shows every tool; `ucp tools search` finds one",
    )


@app.command("describe")
def describe_tool(
    name: Annotated[str, typer.Argument(help="Exposed tool name, e.g. time__get_current_time.")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
    timeout: TimeoutOption = 30.0,
    url: UrlOption = None,
    local: LocalOption = False,
) -> None:
    """Show a tool's full definition: description, input/output schema, annotations.

    Example: ucp tools describe time__convert_time
    """
    loaded, paths = load(config)
    names, builtins = servers_for_tool(loaded.config, name)
    cfg = subset(loaded.config, names, builtins=builtins)
    remote = use_gateway(config, url, local)

    async def run() -> dict[str, Any] | UnknownToolError | None:
        from ucp.frontend.cli_routes import describe_row

        async with open_gateway(cfg, ensure_home(paths), timeout=timeout) as gw:
            try:
                view = gw.api.describe(gw.api.open(transport="cli", register=False), name)
            except UnknownToolError as exc:
                return None if target_down(gw, names) else exc
            return describe_row(view)

    if remote is not None:
        try:
            data = ask(lambda: remote.get(f"/api/v1/cli/tools/{urllib.parse.quote(name, safe='')}"))
        except UnknownToolError as exc:
            data = exc
    else:
        data = anyio.run(run)
    if data is None:
        raise typer.Exit(EXIT_FAILURE)
    if isinstance(data, UnknownToolError):
        unknown_tool(data)
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{data['name']}[/]  (server {data['server']})", highlight=False)
    console.print(data["description"] or "(no description)", highlight=False, markup=False)
    console.print(f"\n[bold]arguments:[/] {signature(data['input_schema']) or '(none)'}", highlight=False)
    console.print_json(json.dumps(data["input_schema"]))
    if "output_schema" in data:
        console.print("[bold]output schema:[/]")
        console.print_json(json.dumps(data["output_schema"]))
    if "annotations" in data:
        console.print(f"[bold]annotations:[/] {json.dumps(data['annotations'])}", highlight=False)


def parse_args(text: str) -> dict[str, Any]:
    """``--args``: a JSON object, ``@file.json`` or ``-`` (stdin)."""
    source = "--args"
    if text == "-":
        text, source = sys.stdin.read(), "--args (stdin)"
    elif text.startswith("@"):
        try:
            text, source = Path(text[1:]).read_text(encoding="utf-8"), f"--args file {text[1:]}"
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the --args file {text[1:]}: {exc}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            hint="""quote the object for the shell, e.g. --args '{"timezone": "UTC"}'""",
        )
    if not isinstance(value, dict):
        fail(
            f"{source} must be a JSON object, got {type(value).__name__}",
            hint="""e.g. --args '{"timezone": "UTC"}'""",
        )
    return value


def print_result(result: types.CallToolResult, as_json: bool) -> None:
    import mcp_types as types

    if as_json:
        print_json(result.model_dump(mode="json", by_alias=True, exclude_none=True))
        return
    stream = err_console if result.is_error else console
    if result.structured_content is not None and not result.is_error:
        print_json(result.structured_content)
        return
    for block in result.content:
        if isinstance(block, types.TextContent):
            stream.print(block.text, highlight=False, markup=False, soft_wrap=True)
        else:
            stream.print(
                f"[{block.type} content: {json.dumps(block.model_dump(mode='json', exclude_none=True))[:200]}]",
                highlight=False,
                markup=False,
            )


def print_wire_result(result: dict[str, Any], as_json: bool) -> None:
    """``print_result`` for a result as JSON on the wire (``structuredContent``, ``isError``...)."""
    if as_json:
        print_json(result)
        return
    stream = err_console if result.get("isError") else console
    if result.get("structuredContent") is not None and not result.get("isError"):
        print_json(result["structuredContent"])
        return
    for block in result.get("content") or []:
        if block.get("type") == "text":
            stream.print(block.get("text", ""), highlight=False, markup=False, soft_wrap=True)
        else:
            stream.print(
                f"[{block.get('type')} content: {json.dumps(block)[:200]}]", highlight=False, markup=False
            )


@app.command("call")
def call(
    name: Annotated[str, typer.Argument(help="Exposed tool name, e.g. time__get_current_time.")],
    args: Annotated[
        str, typer.Option("--args", "-a", help="Arguments: a JSON object, @file.json, or - for stdin.")
    ] = "{}",
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole MCP result as JSON.")] = False,
    config: ConfigOption = None,
    timeout: TimeoutOption = 30.0,
    url: UrlOption = None,
    local: LocalOption = False,
) -> None:
    """Call a tool; its arguments are checked against its schema first.

    Prints the structured result as JSON (or the text content); exits 1 when the tool
    reports an error, 2 on invalid arguments or an unknown tool.

    Uses a running `ucp serve` for this registry when there is one (see --url, --local).

    Example: ucp tools call time__get_current_time --args '{"timezone": "UTC"}'
    """
    arguments = parse_args(args)
    loaded, paths = load(config)
    names, builtins = servers_for_tool(loaded.config, name)
    cfg = subset(loaded.config, names, builtins=builtins)
    remote = use_gateway(config, url, local)

    async def run() -> types.CallToolResult | UCPError | None:
        async with open_gateway(cfg, ensure_home(paths), timeout=timeout) as gw:
            session = gw.api.open(client_name="ucp-cli", transport="cli")
            try:
                return await gw.api.call(session, name, arguments)
            except UnknownToolError as exc:
                return None if target_down(gw, names) else exc
            except InvalidArgumentsError as exc:
                return exc

    result: types.CallToolResult | UCPError | None
    if remote is not None:
        try:
            answer = ask(lambda: remote.post("/api/v1/cli/call", {"name": name, "arguments": arguments}))
        except UnknownToolError as exc:
            unknown_tool(exc)
        except InvalidArgumentsError as exc:
            fail_error(exc)
        wire: dict[str, Any] = answer["result"]
        print_wire_result(wire, as_json)  # as it came: no MCP SDK import on this path
        if wire.get("isError"):
            raise typer.Exit(EXIT_FAILURE)
        return
    result = anyio.run(run)
    if result is None:
        raise typer.Exit(EXIT_FAILURE)
    if isinstance(result, UnknownToolError):
        unknown_tool(result)
    if isinstance(result, UCPError):
        fail_error(result)
    print_result(result, as_json)
    if result.is_error:
        raise typer.Exit(EXIT_FAILURE)
