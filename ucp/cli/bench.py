"""``ucp bench``: the benchmarks, one command each; tables for humans, ``--json`` for scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ucp.cli.common import console, print_json

app = typer.Typer(help="Benchmarks (print a table; --json for one JSON object).", no_args_is_help=True)

DEFAULT_NODE_BIN = Path(__file__).resolve().parents[2] / "tests" / "integration" / "node" / "node_modules" / ".bin"


def _proxy_tables(result: dict[str, Any]) -> list[Table]:
    tables = []
    for wire in ("stdio", "http"):
        rows = result.get(wire)
        if not rows:
            continue
        direct = rows["direct"]["p50_ms"]
        t = Table(title=f"tools/call latency, trivial tool, over {wire} (ms)")
        for col in ("variant", "p50", "p99", "added p50", "× direct p50", "calls"):
            t.add_column(col, justify="right" if col != "variant" else "left")
        for label, m in rows.items():
            t.add_row(label, f"{m['p50_ms']:.2f}", f"{m['p99_ms']:.2f}", f"{m['p50_ms'] - direct:+.2f}",
                      f"{m['p50_ms'] / direct:.2f}", str(m["n"]))
        tables.append(t)
    if "startup" in result:
        t = Table(title="process start -> first tools/list answer (s), time server registered")
        for col in ("variant", "median", "min", "max", "tools listed"):
            t.add_column(col)
        for label, m in result["startup"].items():
            t.add_row(label, f"{m['median_s']:.2f}", f"{m['min_s']:.2f}", f"{m['max_s']:.2f}", f"{m['tools']:.0f}")
        tables.append(t)
    if "memory" in result:
        t = Table(title="resident memory of the proxy process, 5 downstream servers connected")
        for col in ("variant", "RSS (MB)", "servers", "tools"):
            t.add_column(col)
        for label, m in result["memory"].items():
            t.add_row(label, f"{m['rss_mb']:.0f}", f"{m['servers']:.0f}", f"{m['tools']:.0f}")
        tables.append(t)
    return tables


@app.command("proxy")
def proxy(
    calls: int = typer.Option(200, help="Calls per variant per round."),
    rounds: int = typer.Option(3, help="Interleaved rounds."),
    start_repeats: int = typer.Option(5, help="Cold starts per variant."),
    part: list[str] = typer.Option(["stdio", "http", "startup", "memory"], "--part", help="stdio, http, startup, memory."),
    node_bin: Path = typer.Option(DEFAULT_NODE_BIN, help="Folder with mcp-server-everything / -memory (npm)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Proxy overhead (UCP vs direct vs FastMCP's proxy), cold start, memory.

    Example: ucp bench proxy --calls 100 --part stdio --part http
    """
    from ucp.bench.proxy import run_proxy_bench

    result = run_proxy_bench(calls=calls, rounds=rounds, start_repeats=start_repeats,
                             node_bin=node_bin if node_bin.exists() else None, parts=tuple(part))
    if as_json:
        print_json(result)
        return
    for table in _proxy_tables(result):
        console.print(table)
    console.print(f"[dim]machine: {result['machine']}[/]")


@app.command("tokens")
def tokens(
    tools: Path = typer.Option(..., "--tools", help="tools.jsonl of a tool-retrieval data set."),
    count: int = typer.Option(500, help="Catalog size (tools are replicated under other servers if needed)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Token cost of tools/list in full, search and dynamic mode.

    Example: ucp bench tokens --tools ../shared/data/tool-retrieval/toollens/tools.jsonl --count 500
    """
    from ucp.bench.tokens import run_token_bench

    result = run_token_bench(tools, count)
    if as_json:
        print_json(result)
        return
    t = Table(title=f"tools/list token cost, {result['tools']} tools ({result['method']})")
    for col in ("mode", "tokens", "share of full"):
        t.add_column(col)
    for mode, value in result["tokens"].items():
        t.add_row(mode, f"{value:,}", f"{result['share_of_full'][mode]:.1%}")
    console.print(t)
    console.print(f"[dim]dynamic: {result['dynamic']}[/]")
