"""``ucp audit``: read the audit log (calls, denials, rate limits, admin actions), with filters;
and the one helper CLI commands use to record their own admin actions in it."""

from __future__ import annotations

import getpass
import json
import re
import time
from typing import Any

import typer
from rich.table import Table

from ucp.cli.common import console
from ucp.config.paths import default_paths
from ucp.policy.audit import AuditLog, read

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """``90d``, ``12h``, ``30m``, ``3600`` (seconds) -> seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match or float(match.group(1)) <= 0:
        raise typer.BadParameter(f"{text!r} is not a duration like 90d, 12h, 30m or 3600")
    return float(match.group(1)) * _UNIT[match.group(2)]


def actor() -> str:
    """Who ran the command (the OS user), for admin lines of the audit log."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def record_admin(action: str, **fields: Any) -> None:
    """One ``admin`` line for a change made from the CLI (keys, registry, trust approvals)."""
    log = AuditLog(default_paths().audit_dir)
    log.record("admin", action=action, actor=actor(), **fields)
    log.close()


def _shared_lines(since: float | None) -> list[dict[str, Any]] | None:
    """Every replica's lines from PostgreSQL when ``[state]`` shares the audit log, else None."""
    from ucp.cli.common import fail, load

    try:
        config = load(None)[0].config
    except typer.Exit:
        return None
    if not (config.state.backend == "redis" and config.state.postgres_url):
        return None
    from ucp.state import open_state
    from ucp.state.audit import AuditShipper

    state = open_state(config.state)
    assert state.postgres_url is not None
    shipper = AuditShipper(
        default_paths().audit_dir,
        state.postgres_url,
        schema=state.pg_schema(),
        connect_timeout=config.state.timeout,
    )
    try:
        return shipper.read(since=since, limit=100_000)
    except Exception as exc:  # named by class: the URL may hold a password
        fail(f"cannot read the shared audit log: {type(exc).__name__}", hint="check [state] postgres_url")
    finally:
        shipper.disconnect()


def audit(
    since: str | None = typer.Option(None, "--since", help="Only the last ..., e.g. 1h, 7d."),
    event: str | None = typer.Option(
        None, "--event", help="call, denied, rate_limited, auth_denied or admin."
    ),
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant."),
    identity: str | None = typer.Option(None, "--identity", help="Only this identity (subject)."),
    tool: str | None = typer.Option(None, "--tool", help="Only this tool (glob, e.g. 'git__*')."),
    outcome: str | None = typer.Option(None, "--outcome", help="ok, error, denied, rate_limited."),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="The most recent N lines."),
    summary: bool = typer.Option(
        False,
        "--summary",
        help="Counts per tenant, tool and outcome (the per-tenant stats) instead of lines.",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line (JSONL)."),
) -> None:
    """Read the audit log (UCP_HOME/audit/audit.jsonl and its rotations), newest last.

    Example: ucp audit --since 1h --outcome denied
    """
    cutoff = time.time() - parse_duration(since) if since else None
    matching = list(
        read(
            default_paths().audit_dir,
            source=_shared_lines(cutoff),
            since=cutoff,
            event=event,
            tenant=tenant,
            identity=identity,
            tool=tool,
            outcome=outcome,
        )
    )
    if summary:
        _summary(matching, as_json)
        return
    lines = matching[-limit:]
    if as_json:
        for line in lines:
            typer.echo(json.dumps(line, ensure_ascii=False))
        return
    if not lines:
        console.print("no audit lines match")
        return
    table = Table(title=f"audit log ({len(lines)} lines)")
    for col in ("time", "event", "tenant", "identity", "tool", "outcome", "ms", "detail"):
        table.add_column(col)
    for line in lines:
        detail = line.get("rule") or line.get("reason") or line.get("action") or line.get("error_code") or ""
        table.add_row(
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(line.get("time", 0))),
            str(line.get("event", "")),
            str(line.get("tenant", "-")),
            str(line.get("identity", line.get("actor", "-"))),
            str(line.get("tool", "-")),
            str(line.get("outcome", "")),
            str(line.get("duration_ms", "")),
            str(detail),
        )
    console.print(table)


def _summary(lines: list[dict[str, Any]], as_json: bool) -> None:
    counts: dict[tuple[str, str, str], list[float]] = {}
    for line in lines:
        if line.get("event") not in ("call", "denied", "rate_limited"):
            continue
        key = (str(line.get("tenant", "-")), str(line.get("tool", "-")), str(line.get("outcome", "")))
        counts.setdefault(key, []).append(float(line.get("duration_ms") or 0.0))
    rows = [
        {"tenant": t, "tool": tool, "outcome": o, "count": len(d), "mean_ms": round(sum(d) / len(d), 3)}
        for (t, tool, o), d in sorted(counts.items())
    ]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table(title="calls per tenant, tool and outcome")
    for col in ("tenant", "tool", "outcome", "count", "mean ms"):
        table.add_column(col)
    for row in rows:
        table.add_row(*(str(row[k]) for k in ("tenant", "tool", "outcome", "count", "mean_ms")))
    console.print(table)
