"""The analytics behind ``/api/v1/analytics/*`` and the dashboard: usage, tools, router performance.

Computed on demand from the two stores UCP already keeps: the call records
(``records.py``: every call, its outcome and latency) and the learning feedback
store (``$UCP_HOME/state/learning.sqlite``, written by ``ucp/router/feedback.py``:
rankings shown, the calls that followed, per-day hit counts). The feedback store
is opened read-only here (its schema is the router's; this module only reads
the columns it documents). Every query is bounded: a date range of at most
``MAX_DAYS`` days, ``top_k`` at most ``MAX_TOP_K``, and at most ``MAX_RANKINGS``
recent rankings scanned for the rank and exploration figures.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ucp.errors import InvalidArgumentsError
from ucp.log import get_logger
from ucp.observe.records import RecordStore

log = get_logger("ucp.observe.analytics")

MAX_DAYS = 366
MAX_TOP_K = 100
MAX_RANKINGS = 20_000
MAX_LATENCY_ROWS = 200_000


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return round(values[index], 3)


def date_range(start: date | None, end: date | None, *, today: date | None = None) -> tuple[date, date]:
    """The inclusive UTC day range asked for (default: the last 30 days); bounded to ``MAX_DAYS``."""
    today = today or datetime.now(UTC).date()
    end = end or today
    start = start or end - timedelta(days=29)
    if start > end:
        raise InvalidArgumentsError(f"start_date {start} is after end_date {end}", field="start_date")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidArgumentsError(f"the range spans more than {MAX_DAYS} days", field="start_date")
    return start, end


def _epoch(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


class Analytics:
    def __init__(
        self,
        records: RecordStore | None,
        learning_db: Path | None,
        *,
        feedback: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]] | None = None,
        learned: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        """``feedback`` and ``learned`` replace the learning SQLite file when replicas share state:
        a query of the shared feedback events, and the learner's (shared) statistics."""
        self.records = records
        self.learning_db = learning_db
        self.feedback = feedback
        self.learned = learned

    # ------------------------------------------------------------ the feedback store, read-only
    def _feedback(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.feedback is not None:
            try:
                return self.feedback(sql, args)
            except Exception as exc:  # the shared store is down: the report says nothing learned
                log.warning("analytics_feedback_unreadable", error=type(exc).__name__)
                return []
        if self.learning_db is None or not self.learning_db.exists():
            return []
        db = sqlite3.connect(f"file:{self.learning_db}?mode=ro", uri=True, timeout=2.0)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # an empty store without its tables yet
            return []
        finally:
            db.close()

    def _calls(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.records.query(sql, args) if self.records is not None else []

    # ------------------------------------------------------------ usage
    def usage(self, start: date | None = None, end: date | None = None) -> dict[str, Any]:
        """Calls per day and per server in the range: counts, errors, latency percentiles."""
        first, last = date_range(start, end)
        lo, hi = _epoch(first), _epoch(last + timedelta(days=1))
        rows = self._calls(
            "SELECT ts, server, outcome, duration_ms FROM calls WHERE ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
            (lo, hi, MAX_LATENCY_ROWS),
        )
        days: dict[str, dict[str, Any]] = {}
        d = first
        while d <= last:
            days[d.isoformat()] = {"day": d.isoformat(), "calls": 0, "errors": 0, "_lat": []}
            d += timedelta(days=1)
        servers: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "errors": 0, "_lat": []})
        latencies: list[float] = []
        for ts, server, outcome, ms in rows:
            bucket = days.get(_day(ts))
            if bucket is None:
                continue
            err = outcome != "ok"
            for target in (bucket, servers[server]):
                target["calls"] += 1
                target["errors"] += int(err)
                target["_lat"].append(ms)
            latencies.append(ms)

        def finish(row: dict[str, Any]) -> dict[str, Any]:
            lat = row.pop("_lat")
            row["error_rate"] = round(row["errors"] / row["calls"], 4) if row["calls"] else None
            row["p50_ms"] = _percentile(lat, 0.5)
            row["p95_ms"] = _percentile(lat, 0.95)
            return row

        return {
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
            "total_calls": len(latencies),
            "errors": sum(v["errors"] for v in days.values()),
            "p50_ms": _percentile(latencies, 0.5),
            "p95_ms": _percentile(latencies, 0.95),
            "days": [finish(v) for v in days.values()],
            "servers": [{"server": s, **finish(v)} for s, v in sorted(servers.items())],
            "truncated": len(rows) >= MAX_LATENCY_ROWS,
        }

    def calls_since(self, seconds: float) -> list[dict[str, Any]]:
        """Calls per server and tool in the last ``seconds`` (the dashboard's call rates)."""
        rows = self._calls(
            "SELECT server, tool, COUNT(*), SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END) FROM calls WHERE ts >= ? "
            "GROUP BY server, tool ORDER BY COUNT(*) DESC LIMIT 500",
            (time.time() - seconds,),
        )
        return [{"server": s, "tool": t, "calls": n, "errors": int(e or 0)} for s, t, n, e in rows]

    def timeline(self, seconds: float = 3600, step: float = 60) -> list[dict[str, Any]]:
        """Calls per minute (``step``) over the last ``seconds``, by server."""
        start, width = int(time.time() - seconds), max(1, int(step))
        # integer division of integers: the same buckets on SQLite and PostgreSQL
        rows = self._calls(
            "SELECT (CAST(ts AS INTEGER) - ?) / ?, server, COUNT(*), "
            "SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END) FROM calls "
            "WHERE ts >= ? GROUP BY 1, 2 ORDER BY 1",
            (start, width, start),
        )
        return [
            {"t": start + int(b) * width, "server": s, "calls": int(n), "errors": int(e or 0)}
            for b, s, n, e in rows
        ]

    # ------------------------------------------------------------ tools
    def tools(self, top_k: int = 10) -> dict[str, Any]:
        """The most-called tools: calls, error rate, latency, and the router's learned view of them."""
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidArgumentsError(f"top_k must be from 1 to {MAX_TOP_K}", field="top_k")
        rows = self._calls(
            "SELECT server, tool, COUNT(*), SUM(CASE WHEN outcome <> 'ok' THEN 1 ELSE 0 END), AVG(duration_ms), MAX(ts) FROM calls "
            "GROUP BY server, tool ORDER BY COUNT(*) DESC, server, tool LIMIT ?",
            (top_k,),
        )
        stats = (
            [(r["tool"], r["shown"], r["called"], r["explored"]) for r in self.learned()]
            if self.learned is not None
            else self._feedback("SELECT tool, shown, called, explored FROM tool_stats")
        )
        learned = {r[0]: {"shown": r[1], "called_after_search": r[2], "explored": r[3]} for r in stats}
        tools = []
        for server, tool, n, errors, avg, last in rows:
            exposed = f"{server}__{tool}"
            tools.append(
                {
                    "name": exposed,
                    "server": server,
                    "tool": tool,
                    "calls": n,
                    "errors": int(errors or 0),
                    "error_rate": round((errors or 0) / n, 4),
                    "avg_ms": round(avg, 3),
                    "last_called": last,
                    **learned.get(exposed, {"shown": 0, "called_after_search": 0, "explored": 0}),
                }
            )
        return {"top_k": top_k, "tools": tools}

    # ------------------------------------------------------------ router
    def router_performance(self, days: int = 30) -> dict[str, Any]:
        """Share of searches followed by a call of a shown tool (per day, at which rank), and
        what exploration surfaced and got called."""
        if not 1 <= days <= MAX_DAYS:
            raise InvalidArgumentsError(f"days must be from 1 to {MAX_DAYS}", field="days")
        daily = [
            {"day": d, "rankings": n, "hits": h, "hit_rate": round(h / n, 4) if n else None}
            for d, n, h in reversed(
                self._feedback("SELECT day, rankings, hits FROM daily ORDER BY day DESC LIMIT ?", (days,))
            )
        ]
        since = time.time() - days * 86400
        rankings = self._feedback(
            "SELECT id, shown FROM rankings WHERE ts >= ? ORDER BY ts DESC LIMIT ?", (since, MAX_RANKINGS)
        )
        ids = [r[0] for r in rankings]
        first_rank: dict[str, int] = {}
        called: dict[str, set[str]] = defaultdict(set)
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            marks = ",".join("?" * len(chunk))
            for rid, tool, rank in self._feedback(
                f"SELECT ranking_id, tool, rank FROM outcomes WHERE ranking_id IN ({marks})", tuple(chunk)
            ):
                called[rid].add(tool)
                if rank is not None and (rid not in first_rank or rank < first_rank[rid]):
                    first_rank[rid] = int(rank)
        by_rank: dict[int, int] = defaultdict(int)
        for rank in first_rank.values():
            by_rank[rank] += 1
        slots = explored_slots = explored_called = 0
        for rid, shown_json in rankings:
            try:
                shown = json.loads(shown_json)
            except (ValueError, TypeError):
                continue
            for item in shown:
                slots += 1
                if len(item) >= 3 and item[2]:
                    explored_slots += 1
                    if item[0] in called.get(rid, ()):
                        explored_called += 1
        total = len(rankings)
        hit_at = {
            str(k): round(sum(n for r, n in by_rank.items() if r <= k) / total, 4) if total else None
            for k in (1, 3, 5, 10)
        }
        return {
            "days": days,
            "rankings": total,
            "hits": len(first_rank),
            "hit_rate": round(len(first_rank) / total, 4) if total else None,
            "hit_rate_at": hit_at,
            "first_hit_rank": {str(r): n for r, n in sorted(by_rank.items())},
            "exploration": {
                "slots": slots,
                "explored_slots": explored_slots,
                "share": round(explored_slots / slots, 4) if slots else None,
                "explored_called": explored_called,
            },
            "daily": daily,
            "truncated": total >= MAX_RANKINGS,
        }
