"""``ucp bench``: the benchmarks, one command each; tables for humans, ``--json`` for scripts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ucp.cli.common import console, print_json

app = typer.Typer(help="Benchmarks (print a table; --json for one JSON object).", no_args_is_help=True)

DEFAULT_NODE_BIN = (
    Path(__file__).resolve().parents[2] / "tests" / "integration" / "node" / "node_modules" / ".bin"
)


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
            t.add_row(
                label,
                f"{m['p50_ms']:.2f}",
                f"{m['p99_ms']:.2f}",
                f"{m['p50_ms'] - direct:+.2f}",
                f"{m['p50_ms'] / direct:.2f}",
                str(m["n"]),
            )
        tables.append(t)
    if "throughput" in result:
        tp = result["throughput"]
        counts = [str(n) for n in tp["sessions"]]
        title = (
            f"throughput over streamable HTTP: calls/s (x direct) and p50 / p99 ms, {tp['seconds']:g} s each"
        )
        tables.append(_calls_table(tp, "direct", title))
        t = Table(
            title="CPU per call, ms: the proxy's own processes (split: the process started, then its workers) "
            "| the client | the downstream -> the machine's ceiling, calls/s (cores / all three)"
        )
        t.add_column("variant")
        for n in counts:
            t.add_column(f"{n} sessions", justify="right")
        for label, cells in tp["rows"].items():
            t.add_row(label, *(_cpu_cell(cells[n], full=True) for n in counts))
        tables.append(t)
    if "scaling" in result:
        sc = result["scaling"]
        title = (
            "ucp__search_tools (dense ranking, a new query per call): calls/s (x 1 worker), "
            f"p50 / p99 ms, CPU ms per call; {sc['seconds']:g} s each"
        )
        tables.append(_calls_table(sc, "ucp", title, with_cpu=True))
    if "startup" in result:
        t = Table(title="process start -> first tools/list answer (s), time server registered")
        for col in ("variant", "median", "min", "max", "tools listed"):
            t.add_column(col)
        for label, m in result["startup"].items():
            t.add_row(
                label, f"{m['median_s']:.2f}", f"{m['min_s']:.2f}", f"{m['max_s']:.2f}", f"{m['tools']:.0f}"
            )
        tables.append(t)
    if "memory" in result:
        t = Table(title="resident memory of the proxy process, 5 downstream servers connected")
        for col in ("variant", "RSS (MB)", "servers", "tools"):
            t.add_column(col)
        for label, m in result["memory"].items():
            t.add_row(label, f"{m['rss_mb']:.0f}", f"{m['servers']:.0f}", f"{m['tools']:.0f}")
        tables.append(t)
    return tables


def _calls_table(part: dict[str, Any], reference: str, title: str, *, with_cpu: bool = False) -> Table:
    """Calls/s per variant and session count (× the ``reference`` variant), p50 / p99, RSS."""
    counts = [str(n) for n in part["sessions"]]
    ref = part["rows"].get(reference, {})
    t = Table(title=title)
    t.add_column("variant")
    for n in counts:
        t.add_column(f"{n} sessions", justify="right")
    t.add_column("RSS MB (per process)", justify="right")
    for label, cells in part["rows"].items():
        row = [label]
        for n in counts:
            m = cells[n]
            ratio = m["calls_per_s"] / ref[n]["calls_per_s"] if n in ref else float("nan")
            cell = f"{m['calls_per_s']:.0f} ({ratio:.2f}x)  {m['p50_ms']:.0f} / {m['p99_ms']:.0f}"
            row.append(f"{cell}  {_cpu_cell(m)}" if with_cpu else cell)
        row.append(" + ".join(f"{r:.0f}" for r in part["rss_mb"][label]))
        t.add_row(*row)
    return t


def _cpu_cell(cell: dict[str, Any], *, full: bool = False) -> str:
    total = f"{cell.get('cpu_ms_per_call', float('nan')):.1f}"
    split = [c for c in cell.get("cpu_ms_per_call_by_process", []) if c >= 0.05]
    own = f"{total} ({' + '.join(f'{c:.1f}' for c in split)})" if len(split) > 1 else total
    if not full or "ceiling_calls_per_s" not in cell:
        return own
    return (
        f"{own} | {cell['cpu_ms_per_call_client']:.1f} | {cell['cpu_ms_per_call_downstream']:.1f}"
        f" -> {cell['ceiling_calls_per_s']:.0f}"
    )


@app.command("proxy")
def proxy(
    calls: int = typer.Option(200, help="Calls per variant per round."),
    rounds: int = typer.Option(3, help="Interleaved rounds."),
    start_repeats: int = typer.Option(5, help="Cold starts per variant."),
    part: list[str] = typer.Option(
        ["stdio", "http", "throughput", "scaling", "startup", "memory"],
        "--part",
        help="stdio, http, throughput, scaling (workers where UCP does the work), startup, memory.",
    ),
    sessions: list[int] = typer.Option([1, 8, 32, 64], "--sessions", help="Throughput: concurrent sessions."),
    seconds: float = typer.Option(4.0, help="Throughput: seconds per variant and session count."),
    workers: list[int] = typer.Option(
        [2], "--workers", help="Throughput: UCP worker counts to compare with 1."
    ),
    node_bin: Path = typer.Option(
        DEFAULT_NODE_BIN, help="Folder with mcp-server-everything / -memory (npm)."
    ),
    baseline: Path | None = typer.Option(
        None, help="Throughput: another UCP checkout (e.g. a worktree of main) to serve beside this one."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Proxy overhead (UCP vs direct vs FastMCP's proxy), throughput, scaling with workers, cold start, memory.

    Example: ucp bench proxy --calls 100 --part stdio --part http
    Example: ucp bench proxy --part throughput --sessions 8 --sessions 32 --workers 2
    Example: ucp bench proxy --part scaling --sessions 8 --sessions 32 --workers 2
    """
    from ucp.bench.proxy import run_proxy_bench

    result = run_proxy_bench(
        calls=calls,
        rounds=rounds,
        start_repeats=start_repeats,
        node_bin=node_bin if node_bin.exists() else None,
        parts=tuple(part),
        sessions=tuple(sessions),
        seconds=seconds,
        workers=tuple(w for w in workers if w > 1),
        baseline=baseline,
    )
    if as_json:
        print_json(result)
        return
    for table in _proxy_tables(result):
        console.print(table)
    console.print(f"[dim]machine: {result['machine']}[/]")


@app.command("auth")
def auth(
    calls: int = typer.Option(300, help="Calls per variant per round."),
    rounds: int = typer.Option(3, help="Interleaved rounds."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Added latency per call of token validation + policy + rate limits + audit, over HTTP, vs auth off.

    Example: ucp bench auth --calls 300
    """
    from ucp.bench.auth import run_auth_bench

    result = run_auth_bench(calls=calls, rounds=rounds)
    if as_json:
        print_json(result)
        return
    table = Table(title=f"tools/call over HTTP, {calls} x {rounds} interleaved (ms)")
    for col in ("variant", "p50", "p99", "mean", "added p50"):
        table.add_column(col, justify="right" if col != "variant" else "left")
    for label, row in result["http"].items():
        table.add_row(
            label,
            f"{row['p50_ms']:.3f}",
            f"{row['p99_ms']:.3f}",
            f"{row['mean_ms']:.3f}",
            f"{row['added_p50_ms']:+.3f}",
        )
    console.print(table)
    steps = Table(title="the added steps alone, in process (µs per call)")
    for col in ("step", "p50", "p99"):
        steps.add_column(col, justify="right" if col != "step" else "left")
    for label, row in result["steps"].items():
        steps.add_row(label, f"{row['p50_us']:.1f}", f"{row['p99_us']:.1f}")
    console.print(steps)
    console.print(
        f"added per call (JWT cached + policy + limits + audit, p50 sum): {result['added_per_call_us']:.1f} µs"
    )
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
    from ucp.cli.route import print_token_table

    print_token_table(result)


@app.command("retrieval")
def retrieval(
    tools: Path | None = typer.Option(
        None, "--tools", help="tools.jsonl (id, name, description, [server, category, input_schema])."
    ),
    queries: Path | None = typer.Option(None, "--queries", help="queries.jsonl (qid, query, relevant)."),
    cross: list[Path] = typer.Option(
        [],
        "--cross",
        help="Cross-dataset mode: a data-set folder (tools.jsonl + queries.jsonl), given twice or more; "
        "tune on each, report on the others.",
    ),
    limit: int | None = typer.Option(
        None, "--limit", help="Use this many queries, spread evenly over the file."
    ),
    scale: int | None = typer.Option(
        None, "--scale", help="Also time a synthetic catalog of this many tools (e.g. 10000)."
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Embedding cache to reuse between runs."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Recall@1/5/10, nDCG@10, MRR, all-needed@5/10 for BM25, dense and the shipped hybrid; latency, build, memory.

    Example: ucp bench retrieval --tools data/metatool/tools.jsonl --queries data/metatool/queries.jsonl --scale 10000
    Cross-dataset: ucp bench retrieval --cross data/metatool --cross data/toollens --limit 2000
    """
    from ucp.bench.datasets import DatasetError
    from ucp.bench.retrieval import render_table, run_retrieval_bench
    from ucp.cli.common import fail

    if cross:
        _cross(cross, limit, cache_dir, as_json)
        return
    if tools is None or queries is None:
        fail("give --tools and --queries (or --cross DIR twice or more)")
    try:
        result = run_retrieval_bench(
            tools, queries, limit=limit, scale=scale, cache_dir=cache_dir, progress=not as_json
        )
    except DatasetError as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
        return
    console.print(render_table(result))


def _cross(dirs: list[Path], limit: int | None, cache_dir: Path | None, as_json: bool) -> None:
    from ucp.bench.cross import render_cross, run_cross_bench
    from ucp.bench.datasets import DatasetError
    from ucp.cli.common import fail

    if len(dirs) < 2:
        fail("cross-dataset mode needs two data-set folders or more (--cross A --cross B)")
    sets = [(d.name, d / "tools.jsonl", d / "queries.jsonl") for d in dirs]
    try:
        result = run_cross_bench(sets, limit=limit, cache_dir=cache_dir, progress=not as_json)
    except DatasetError as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
        return
    for table in render_cross(result):
        console.print(table)


@app.command("train")
def train_bench(
    data: list[Path] = typer.Option(
        ..., "--data", help="A data-set folder (tools.jsonl + queries.jsonl); repeat."
    ),
    limit: int | None = typer.Option(2000, "--limit", help="Queries per set (spread evenly over the file)."),
    epochs: int = typer.Option(40, "--epochs", min=1, help="Training passes."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Embedding cache to reuse between runs."),
    sweep: bool = typer.Option(
        False, "--sweep", help="Also the knob grids of tool expansion and co-usage on every set's halves."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Gain of `ucp train`: first half of a stream -> second half, and one set's stream -> the other set.

    Rows: the adapter, tool expansion (use vectors + query terms), both, co-usage.

    Example: ucp bench train --data data/metatool --data data/toollens
    """
    from ucp.bench.datasets import DatasetError
    from ucp.bench.train import render_train, run_train_bench
    from ucp.cli.common import fail
    from ucp.errors import ExtraMissingError, require_extra

    try:
        require_extra("train", "ucp bench train", ("torch",))
    except ExtraMissingError as exc:
        fail(exc.message)
    sets = [(d.name, d / "tools.jsonl", d / "queries.jsonl") for d in data]
    try:
        result = run_train_bench(
            sets, limit=limit, epochs=epochs, cache_dir=cache_dir, progress=not as_json, with_sweep=sweep
        )
    except DatasetError as exc:
        fail(str(exc))
    if as_json:
        print_json(result)
        return
    for table in render_train(result):
        console.print(table)


@app.command("ready")
def ready(
    tools: Path = typer.Option(
        ..., "--tools", help="tools.jsonl (replicated under other servers up to --count)."
    ),
    count: int = typer.Option(500, "--count", min=1, help="How many tools register."),
    onnx_dir: Path | None = typer.Option(
        None, "--onnx-dir", help="Reuse an exported ONNX encoder (as a second start of ucp serve does)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Seconds from registering --count tools to hybrid search, cold and warm embedding cache.

    Example: ucp bench ready --tools data/toollens/tools.jsonl --count 500
    """
    from ucp.bench.ready import run_ready_bench

    result = run_ready_bench(tools, count, onnx_dir=onnx_dir)
    if as_json:
        print_json(result)
        return
    t = Table(title=f"registering {result['tools']} tools -> hybrid search ({result['query_encoder']})")
    for col in ("cache", "BM25 serving (s)", "hybrid serving (s)"):
        t.add_column(col)
    for label in ("cold", "warm"):
        t.add_row(label, f"{result[label]['bm25_s']:.2f}", f"{result[label]['hybrid_s']:.1f}")
    console.print(t)


@app.command("online")
def online(
    dataset: list[str] = typer.Option(
        [
            "metatool=../shared/data/tool-retrieval/metatool/tools.jsonl:../shared/data/tool-retrieval/metatool/queries.jsonl",
            "toollens=../shared/data/tool-retrieval/toollens/tools.jsonl:../shared/data/tool-retrieval/toollens/queries_all_splits.jsonl",
        ],
        "--dataset",
        help="NAME=TOOLS.jsonl:QUERIES.jsonl (repeatable).",
    ),
    seeds: int = typer.Option(5, help="Seeds (stream order, simulated model, exploration)."),
    limit: int | None = typer.Option(None, help="Only the first N queries of each stream."),
    drift: bool = typer.Option(True, "--drift/--no-drift", help="Also run the drift scenario."),
    plot: Path = typer.Option(Path("docs/img/online_recall.png"), help="Where to save the PNG plot."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Embedding cache to reuse between runs."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Replay query streams through the router: static hybrid vs learning + exploration (Recall@5).

    Example: ucp bench online --seeds 5
    """
    import tempfile

    from ucp.bench.online import run_online_bench
    from ucp.cli.common import err_console, fail

    parsed = []
    for spec in dataset:
        name, _, paths = spec.partition("=")
        tools_path, _, queries_path = paths.partition(":")
        if not (name and tools_path and queries_path):
            fail(f"--dataset {spec!r}: expected NAME=TOOLS.jsonl:QUERIES.jsonl")
        for p in (tools_path, queries_path):
            if not Path(p).is_file():
                fail(f"--dataset {name}: {p} does not exist")
        parsed.append((name, Path(tools_path), Path(queries_path)))
    with tempfile.TemporaryDirectory(prefix="ucp-online-cache-") as tmp:
        result = run_online_bench(
            parsed,
            seeds=seeds,
            limit=limit,
            drift=drift,
            cache_dir=cache_dir or Path(tmp),
            plot=plot,
            progress=None if as_json else lambda m: err_console.print(f"[dim]{m}[/]"),
        )
    if as_json:
        print_json(result)
        return
    table = Table(title=f"Recall@{result['k']} over the stream, mean ± sd over {result['seeds']} seeds")
    for col in ("data set", "variant", "whole stream", "last 20%", "first half (drift)"):
        table.add_column(col)
    for name, entry in result["datasets"].items():
        for variant in ("static", "learning", "learning-noisy", "drift-static", "drift-learning"):
            if variant not in entry:
                continue
            m = entry[variant]
            label = "second half" if variant.startswith("drift") else ""
            table.add_row(
                name,
                variant + (f" ({label})" if label else ""),
                f"{m['recall_mean']:.3f} ± {m['recall_sd']:.3f}",
                f"{m['last20_mean']:.3f} ± {m['last20_sd']:.3f}",
                f"{m['before']:.3f}" if "before" in m else "",
            )
    console.print(table)
    if "plot" in result:
        console.print(f"plot: {result['plot']}")


@app.command("cloud")
def cloud(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Backtests of the built-in cloud tools on the shipped NAB series, dev and held-out series side
    by side: forecast MASE over 7 rolling origins next to statsforecast AutoETS/AutoTheta (bench
    extra), anomaly recall against chance and false alarms, rightsizing saving vs saturation
    (about 12 min on one core).

    Example: ucp bench cloud
    """
    from ucp.bench.cloud.backtest import main as backtest_main
    from ucp.bench.cloud.backtest import run_backtests

    if as_json:
        print_json(run_backtests())
        return
    backtest_main()


@app.command("observe")
def observe(
    calls: int = typer.Option(2000, help="Calls per variant per round."),
    rounds: int = typer.Option(5, help="Interleaved rounds."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Per-call overhead of metrics + call records + tracing, on vs off, side by side in one run.

    Example: ucp bench observe --calls 1000 --rounds 3
    """
    from ucp.bench.observe import run_observe_bench

    result = run_observe_bench(calls=calls, rounds=rounds)
    if as_json:
        print_json(result)
        return
    table = Table(
        title=f"Per-call cost of observability ({result['rounds']} rounds x {result['calls_per_round']} calls)"
    )
    for column in ("variant", "calls", "p50 ms", "p95 ms", "mean ms", "overhead p50 ms", "x baseline"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    for row in result["rows"]:
        table.add_row(
            row["variant"],
            str(row["calls"]),
            f"{row['p50_ms']:.4f}",
            f"{row['p95_ms']:.4f}",
            f"{row['mean_ms']:.4f}",
            f"{row['overhead_p50_ms']:+.4f}",
            f"{row['ratio_p50']:.3f}",
        )
    console.print(table)
    console.print(f"[dim]machine: {result['machine']}[/]")


@app.command("scale")
def scale(
    sessions: int = typer.Option(50, help="Concurrent MCP sessions (2025-era, streamable HTTP)."),
    seconds: float = typer.Option(8.0, help="Seconds of load per set-up."),
    kill_seconds: float = typer.Option(9.0, help="Seconds of the kill-one-replica run (kill at a third)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """1 replica embedded vs 1 replica on Redis vs 3 replicas on Redis behind HAProxy, side by side;
    the store's added latency per call; a kill -9 of one replica under load.

    Needs redis-server and haproxy (make services). Example: nice ucp bench scale --sessions 50
    """
    from ucp.bench.scale import run_scale_bench

    result = run_scale_bench(sessions=sessions, seconds=seconds, kill_seconds=kill_seconds)
    if as_json:
        print_json(result)
        return
    table = Table(
        title=f"tools/call over streamable HTTP, {result['sessions']} sessions, {result['seconds']:g} s each"
    )
    for column in ("set-up", "calls/s", "x embedded", "p50 ms", "p99 ms", "added p50 ms", "calls", "failed"):
        table.add_column(column, justify="left" if column == "set-up" else "right")
    for row in result["rows"]:
        table.add_row(
            row["setup"],
            f"{row['calls_per_s']:.0f}",
            f"{row['x_embedded_calls_per_s']:.2f}",
            f"{row['p50_ms']:.1f}",
            f"{row['p99_ms']:.1f}",
            f"{row['added_p50_ms']:+.1f}",
            str(row["calls"]),
            str(row["failed"]),
        )
    console.print(table)
    rt = result["store_roundtrip"]
    console.print(
        f"store per request: 1 GET + 1 SET of a {rt['snapshot_bytes']} B session snapshot = "
        f"{rt['p50_ms']:.2f} ms p50 (Redis on loopback, timed alone)"
    )
    k = result["kill"]
    kt = Table(title="kill -9 of one of 3 replicas under the same load")
    for column in (
        "calls",
        "failed",
        "in flight at kill",
        "failed (started after kill)",
        "calls/s before",
        "calls/s after",
        "back to 90 % (s)",
    ):
        kt.add_column(column, justify="right")
    kt.add_row(
        str(k["calls"]),
        str(k["failed"]),
        str(k["in_flight_at_kill"]),
        str(k["failed_after_kill_started"]),
        f"{k['calls_per_s_before']:.0f}",
        f"{k['calls_per_s_after']:.0f}",
        "-" if k["back_to_90pct_s"] is None else f"{k['back_to_90pct_s']:.2f}",
    )
    console.print(kt)
    console.print(f"[dim]machine: {result['machine']}[/]")
