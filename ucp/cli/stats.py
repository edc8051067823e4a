"""``ucp stats``: what the router learned (per tool) and how often its rankings get used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ucp.cli.common import console, err_console, fail, fail_error, print_json
from ucp.cli.remote import LocalOption, UrlOption
from ucp.cli.tools import ask, use_gateway
from ucp.config.models import Config
from ucp.config.paths import default_paths
from ucp.errors import UCPError


def stats(
    limit: int = typer.Option(30, "--limit", "-n", min=1, help="Tools to show (most shown first)."),
    days: int = typer.Option(14, "--days", min=1, help="Days of hit-rate history."),
    reset: bool = typer.Option(False, "--reset", help="Delete all feedback events and learned statistics."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before --reset."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
    url: UrlOption = None,
    local: LocalOption = False,
) -> None:
    """Per tool: shown / called / succeeded / failed, explored, posterior; and the router's
    top-k hit rate per day (share of rankings followed by a call of a shown tool).

    A running `ucp serve` is asked for what it holds (saved first); otherwise the learning
    state in $UCP_HOME/state/learning.sqlite is read.

    Example: ucp stats --limit 20
    Example: ucp stats --reset --yes
    """
    from ucp.router.feedback import FeedbackStore

    paths = default_paths()
    db = paths.learning_db
    config = _config()
    if config is not None and config.state.shared_learning:
        _shared_stats(
            config, reset=reset, yes=yes, limit=limit, days=days, as_json=as_json, url=url, local=local
        )
        return
    if reset:
        if not db.exists():
            console.print("nothing to reset: no learning state yet")
            return
        if not yes and not typer.confirm(f"Delete all learning state in {db}?"):
            raise typer.Exit(1)
        store = FeedbackStore(db)
        store.reset()
        store.close()
        console.print(
            f"learning state cleared ({db}); a running `ucp serve` keeps what it holds in memory until restart"
        )
        return
    remote = None if reset else use_gateway(None, url, local)
    if remote is not None:
        answer = ask(lambda: remote.get("/api/v1/cli/stats", days=days))
        rows, daily, events = answer["tools"], answer["daily"], answer["events"]
        db = Path(answer["path"]) if answer.get("path") else db
        _print(rows, daily, events, db, limit, as_json, answer.get("arms") or [])
        return
    if not db.exists():
        if as_json:
            print_json({"tools": [], "daily": [], "arms": [], "events": 0, "path": str(db)})
            return
        err_console.print(f"no learning state yet at {db}: it appears once UCP has shown rankings")
        return
    try:
        store = FeedbackStore(db)
    except Exception as exc:  # a corrupt file: say so, do not crash
        fail(f"cannot read {db}: {exc}", hint="`ucp stats --reset` starts afresh")
    try:
        rows = sorted((r.to_dict() for r in store.load_tools()), key=lambda r: (-r["shown"], r["tool"]))
        daily = store.daily(days)
        arms = store.arms(days)
        events = store.count_events()
    finally:
        store.close()
    _print(rows, daily, events, db, limit, as_json, arms)


def _config() -> Config | None:
    from ucp.cli.common import load

    try:
        return load(None)[0].config
    except typer.Exit:
        return None  # an unreadable registry: the embedded store is all there is to read


def _shared_stats(
    config: Config,
    *,
    reset: bool,
    yes: bool,
    limit: int,
    days: int,
    as_json: bool,
    url: str | None,
    local: bool,
) -> None:
    """``ucp stats`` against the shared stores: Redis (statistics) and PostgreSQL (events), if any."""
    import anyio

    from ucp.state import open_state
    from ucp.state.feedback import PgFeedbackStore
    from ucp.state.learning import SharedLearning

    where = f"the shared store (namespace {config.state.namespace})"
    if reset and not yes and not typer.confirm(f"Delete all learning state of every replica in {where}?"):
        raise typer.Exit(1)
    if not reset:
        remote = use_gateway(None, url, local)
        if remote is not None:  # a running replica answers from the same shared store
            answer = ask(lambda: remote.get("/api/v1/cli/stats", days=days))
            _print(
                answer["tools"],
                answer["daily"],
                answer["events"],
                where,
                limit,
                as_json,
                answer.get("arms") or [],
            )
            return
    state = open_state(config.state)
    events = (
        PgFeedbackStore(state.postgres_url, schema=state.pg_schema(), connect_timeout=config.state.timeout)
        if state.postgres_url
        else None
    )

    async def run() -> Any:
        try:
            await state.require()
            shared = SharedLearning(state)
            if reset:
                cleared = await shared.reset()
                if events is not None:
                    await anyio.to_thread.run_sync(events.reset)
                return cleared
            tools = await shared.read_all()
            return [t.to_dict(name) for name, t in tools.items()]
        finally:
            await state.aclose()

    try:
        result = anyio.run(run)
        daily = events.daily(days) if events is not None and not reset else []
        arms = events.arms(days) if events is not None and not reset else []
        count = events.count_events() if events is not None and not reset else 0
    except UCPError as exc:
        fail_error(exc)
    except Exception as exc:  # the store's own error: named by class, never with its URL
        fail(f"the shared store failed: {type(exc).__name__}", hint="check [state] and that the store is up")
    finally:
        if events is not None:
            events.close()
    if reset:
        console.print(f"learning state cleared in {where}: {result} tools; running replicas forget it too")
        return
    rows = sorted(result, key=lambda r: (-r["shown"], r["tool"]))
    _print(rows, daily, count, where, limit, as_json, arms)


def _print(
    rows: list[dict[str, Any]],
    daily: list[dict[str, Any]],
    events: int,
    db: Path | str,
    limit: int,
    as_json: bool,
    arms: list[dict[str, Any]],
) -> None:
    if as_json:
        print_json({"tools": rows, "daily": daily, "arms": arms, "events": events, "path": str(db)})
        return
    table = Table(title=f"learned tool statistics ({len(rows)} tools, {events} rankings recorded)")
    table.add_column("tool", no_wrap=True)
    for col in ("shown", "called", "ok", "failed", "explored", "posterior", "usage q"):
        table.add_column(col, justify="right")
    for r in rows[:limit]:
        table.add_row(
            r["tool"],
            str(r["shown"]),
            str(r["called"]),
            str(r["succeeded"]),
            str(r["failed"]),
            str(r["explored"]),
            f"{r['posterior_mean']:.3f} (α {r['alpha']:.1f}, β {r['beta']:.1f})",
            f"{r['usage_queries']:.1f}",
        )
    console.print(table)
    hits = Table(title="top-k hit rate (rankings followed by a call of a shown tool)")
    for col in ("day", "rankings", "hits", "hit rate"):
        hits.add_column(col, justify="right" if col != "day" else "left")
    for d in daily:
        hits.add_row(
            d["day"],
            str(d["rankings"]),
            str(d["hits"]),
            "—" if d["hit_rate"] is None else f"{d['hit_rate']:.1%}",
        )
    console.print(hits)
    if len(arms) > 1 or any(a["arm"] != "base" for a in arms):
        print_arms(arms)


def print_arms(arms: list[dict[str, Any]]) -> None:
    """A/B comparison: hit rate per served model version (``ucp model ab``), with the ratio to base."""
    base = next((a for a in arms if a["arm"] == "base"), None)
    t = Table(title="A/B: top-k hit rate per served model (ucp model list)")
    for col in ("model", "rankings", "hits", "hit rate", "vs base"):
        t.add_column(col, justify="right" if col != "model" else "left")
    for a in arms:
        rate = float(a["hit_rate"])
        ref = float(base["hit_rate"]) if base else 0.0
        t.add_row(
            str(a["arm"]),
            str(a["rankings"]),
            str(a["hits"]),
            f"{rate:.1%}",
            f"{rate - ref:+.1%}" if base else "—",
        )
    console.print(t)
