"""``ucp route`` (explain a ranking, token cost per mode) and ``ucp index`` (build the tool index)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ucp.cli.common import console, err_console, fail, load, print_json

if TYPE_CHECKING:
    from ucp.app import Gateway

from ucp.cli.remote import LocalOption, UrlOption
from ucp.cli.tools import (
    ConfigOption,
    JsonOption,
    TimeoutOption,
    ask,
    ensure_home,
    quiet_logs,
    report_unreachable,
    use_gateway,
)

app = typer.Typer(
    help="Inspect the router: why tools rank where they do, and what listing costs.", no_args_is_help=True
)


async def _gateway_ready(config: Path | None, timeout: float, dense: bool) -> Gateway:
    from ucp.app import Gateway

    loaded, paths = load(config)
    gateway = Gateway(loaded.config, ensure_home(paths), dense=dense)
    await gateway.__aenter__()
    await gateway.wait_ready(timeout, live=True)
    await gateway.router.wait_synced()
    return gateway


@app.command("explain")
def explain(
    query: str = typer.Argument(..., help="What the model would search for."),
    limit: int = typer.Option(10, "--limit", "-n", min=1, max=100, help="How many tools to show."),
    server: str | None = typer.Option(None, "--server", help="Only tools of this server."),
    dense: bool = typer.Option(
        True, "--dense/--no-dense", help="Wait for the embedding model (default) or BM25 only."
    ),
    config: ConfigOption = None,
    timeout: TimeoutOption = 30.0,
    as_json: JsonOption = False,
    url: UrlOption = None,
    local: LocalOption = False,
) -> None:
    """Show, for the top tools, the BM25, dense, prior and fused scores.

    Uses a running `ucp serve` for this registry when there is one (its router as it serves,
    dense retrieval once its model is loaded; see --url, --local).

    Example: ucp route explain "what time is it in Tokyo"
    """
    if not query.strip():
        fail("the query is empty; describe the task in a few words")
    quiet_logs()
    remote = use_gateway(config, url, local)

    async def run() -> tuple[list[dict[str, Any]], str]:
        gateway = await _gateway_ready(config, timeout, dense)
        try:
            report_unreachable(gateway)
            if dense:
                with (
                    anyio.move_on_after(max(timeout, 180)),
                    err_console.status("loading the embedding model…"),
                ):
                    await gateway.router.dense_ready_event.wait()
            return await gateway.router.explain(query.strip(), limit=limit, server=server)
        finally:
            await gateway.__aexit__(None, None, None)

    if remote is not None:
        answer = ask(lambda: remote.get("/api/v1/cli/explain", query=query, limit=limit, server=server))
        rows, mode = answer["rows"], answer["mode"]
    else:
        rows, mode = anyio.run(run)
    if as_json:
        print_json({"query": query, "mode": mode, "results": rows})
        return
    table = Table(title=f"{query!r} — served by {mode}")
    table.add_column("#", justify="right")
    table.add_column("tool", no_wrap=True)
    for col in ("bm25", "bm25 n", "dense", "dense n", "prior", "fused", "score"):
        table.add_column(col, justify="right")
    for i, r in enumerate(rows, 1):
        dense_raw = "—" if r["dense"] is None else f"{r['dense']:.3f}"
        dense_norm = "—" if r["dense_norm"] is None else f"{r['dense_norm']:.3f}"
        table.add_row(
            str(i),
            r["name"],
            f"{r['bm25']:.2f}",
            f"{r['bm25_norm']:.3f}",
            dense_raw,
            dense_norm,
            f"{r['prior']:.3f}",
            f"{r['fused']:.3f}",
            f"{r['score']:.3f}",
        )
    console.print(table)
    console.print(
        "[dim]fused = w·z(dense) + (1−w)·z(bm25), scaled to [0.01, 1] (see ucp/router/fusion.py); score = fused + prior[/]"
    )


@app.command("tokens")
def tokens(
    config: ConfigOption = None,
    timeout: TimeoutOption = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Token cost of the tools/list payload in each exposure mode, for your catalog.

    Example: ucp route tokens --json
    """
    quiet_logs()

    async def run() -> dict[str, Any]:
        from ucp.session.tokens import catalog_report

        gateway = await _gateway_ready(config, timeout, dense=False)
        try:
            return catalog_report(gateway.catalog, gateway.config.exposure)
        finally:
            await gateway.__aexit__(None, None, None)

    result = anyio.run(run)
    if as_json:
        print_json(result)
        return
    print_token_table(result)


def print_token_table(result: dict[str, Any]) -> None:
    """The table of ``ucp route tokens`` and ``ucp bench tokens`` (a ``catalog_report``)."""
    table = Table(title=f"tools/list token cost, {result['tools']} tools ({result['method']})")
    for col in ("mode", "tokens", "share of full"):
        table.add_column(col)
    for mode, value in result["tokens"].items():
        table.add_row(mode, f"{value:,}", f"{result['share_of_full'][mode]:.1%}")
    console.print(table)
    console.print(f"[dim]dynamic: {result['dynamic']}[/]")


def index(
    config: ConfigOption = None,
    timeout: TimeoutOption = 30.0,
    as_json: JsonOption = False,
) -> None:
    """(Re)build the tool index: connect every server, embed new or changed tools into the
    SQLite cache under $UCP_HOME/index (unchanged tools are never embedded twice).

    Example: ucp index
    """
    quiet_logs()

    async def run() -> dict[str, Any]:
        from ucp.app import Gateway

        loaded, paths = load(config)
        async with Gateway(loaded.config, ensure_home(paths), dense=False) as gateway:
            await gateway.wait_ready(timeout, live=True)
            report_unreachable(gateway)
            from ucp.router.router import make_retriever

            docs = gateway.catalog.docs()
            retriever = make_retriever(loaded.config.router, paths, dense=True)
            retriever.set_docs(docs, embed=False)
            started = time.perf_counter()
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=not as_json,
            ) as bar:
                task = bar.add_task("loading the embedding model", total=None)

                def progress(done: int, total: int) -> None:  # called once the model is loaded
                    bar.update(task, description="embedding tools", completed=done, total=total)

                loaded_ok = await anyio.to_thread.run_sync(lambda: retriever.load_dense(progress))
            stats = retriever.stats()
            return {
                "tools": len(docs),
                "servers": len(gateway.catalog.servers()),
                "ok": loaded_ok,
                "seconds": round(time.perf_counter() - started, 2),
                "model": stats.get("model_id"),
                "index": stats.get("index"),
                "error": retriever.dense_error,
                "cache": str(paths.index_dir),
            }

    result = anyio.run(run)
    if as_json:
        print_json(result)
    else:
        status = "[green]done[/]" if result["ok"] else f"[red]failed[/]: {result['error']}"
        console.print(
            f"{status}: {result['tools']} tools from {result['servers']} servers, "
            f"{result['seconds']} s, model {result['model']}, index {result['index']}, cache {result['cache']}"
        )
    if not result["ok"]:
        raise typer.Exit(1)
