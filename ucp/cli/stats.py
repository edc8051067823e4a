"""``ucp stats``: what the router learned (per tool) and how often its rankings get used."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ucp.cli.common import console, err_console, fail, print_json
from ucp.cli.remote import LocalOption, UrlOption
from ucp.cli.tools import ask, use_gateway
from ucp.config.paths import default_paths


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


def _print(
    rows: list[dict[str, Any]],
    daily: list[dict[str, Any]],
    events: int,
    db: Path,
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
