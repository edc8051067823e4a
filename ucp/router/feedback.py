"""The feedback store: rankings shown, what followed, and the learned statistics (SQLite).

Lives at ``$UCP_HOME/state/learning.sqlite`` (WAL mode). Writes are buffered in memory and
flushed in one transaction (every second by the gateway, and on shutdown), so the protocol
loop never waits on the disk. Bounded: events older than the retention period, and the
oldest beyond ``max_events``, are deleted by ``compact``; tool statistics and the daily
hit-rate rows are small and kept.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ucp.router.documents import ToolDoc

SCHEMA = """
CREATE TABLE IF NOT EXISTS rankings (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, session TEXT, source TEXT, query TEXT,
    shown TEXT NOT NULL, mode TEXT, hit INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS rankings_ts ON rankings(ts);
CREATE TABLE IF NOT EXISTS outcomes (
    ranking_id TEXT NOT NULL, ts REAL NOT NULL, tool TEXT NOT NULL, rank INTEGER, ok INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS outcomes_ranking ON outcomes(ranking_id);
CREATE TABLE IF NOT EXISTS tool_stats (
    tool TEXT PRIMARY KEY, alpha REAL NOT NULL, beta REAL NOT NULL, shown INTEGER NOT NULL,
    called INTEGER NOT NULL, succeeded INTEGER NOT NULL, failed INTEGER NOT NULL, explored INTEGER NOT NULL,
    usage_sum BLOB, usage_count REAL NOT NULL DEFAULT 0, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tool_docs (
    tool TEXT PRIMARY KEY, doc TEXT NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS daily (
    day TEXT PRIMARY KEY, rankings INTEGER NOT NULL, hits INTEGER NOT NULL
);
"""


@dataclass
class ToolRow:
    tool: str
    alpha: float
    beta: float
    shown: int
    called: int
    succeeded: int
    failed: int
    explored: int
    usage_sum: bytes | None
    usage_count: float
    updated: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "shown": self.shown,
            "called": self.called,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "explored": self.explored,
            "alpha": round(self.alpha, 3),
            "beta": round(self.beta, 3),
            "posterior_mean": round(self.alpha / (self.alpha + self.beta), 4),
            "usage_queries": round(self.usage_count, 2),
        }


class FeedbackEvents(Protocol):
    """What the learner writes feedback to: this SQLite store, or PostgreSQL when replicas share
    state (``ucp.state.feedback.PgFeedbackStore``)."""

    @property
    def path(self) -> Path | str: ...
    def add_ranking(
        self,
        ranking_id: str,
        *,
        ts: float,
        session: str,
        source: str,
        query: str,
        shown: Iterable[tuple[str, int, bool]],
        mode: str,
        arm: str = "",
    ) -> None: ...
    def add_tool_docs(self, docs: Iterable[ToolDoc], ts: float) -> None: ...
    def add_outcome(
        self,
        ranking_id: str,
        *,
        ts: float,
        tool: str,
        rank: int | None,
        ok: bool,
        error: str | None,
        first_hit: bool,
    ) -> None: ...
    def save_tools(self, rows: Iterable[ToolRow]) -> None: ...
    def load_tools(self) -> list[ToolRow]: ...
    def flush(self) -> int: ...
    def daily(self, days: int = 30) -> list[dict[str, Any]]: ...
    def arms(self, days: int = 30) -> list[dict[str, Any]]: ...
    def count_events(self) -> int: ...
    def compact(self, now: float | None = None) -> int: ...
    def reset(self) -> None: ...
    def close(self) -> None: ...


class FeedbackStore:
    def __init__(self, path: Path | str, *, retention_days: float = 90.0, max_events: int = 200_000) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self.max_events = max_events
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        try:  # stores written before A/B arms existed
            self._db.execute("ALTER TABLE rankings ADD COLUMN arm TEXT")
        except sqlite3.OperationalError:
            pass

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------ buffered writes
    def _queue(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._pending.append((sql, args))

    def add_ranking(
        self,
        ranking_id: str,
        *,
        ts: float,
        session: str,
        source: str,
        query: str,
        shown: Iterable[tuple[str, int, bool]],
        mode: str,
        arm: str = "",
    ) -> None:
        self._queue(
            "INSERT OR REPLACE INTO rankings(id, ts, session, source, query, shown, mode, arm) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (ranking_id, ts, session, source, query[:2000], json.dumps(list(shown)), mode, arm),
        )
        day = time.strftime("%Y-%m-%d", time.gmtime(ts))
        self._queue(
            "INSERT INTO daily(day, rankings, hits) VALUES (?,1,0) "
            "ON CONFLICT(day) DO UPDATE SET rankings = rankings + 1",
            (day,),
        )

    def add_tool_docs(self, docs: Iterable[ToolDoc], ts: float) -> None:
        """The definitions of shown tools (what ``ucp train`` embeds), replacing older ones."""
        for d in docs:
            doc = {
                "key": d.key,
                "name": d.name,
                "server": d.server,
                "description": d.description,
                "input_schema": d.input_schema,
                "tags": list(d.tags),
                "title": d.title,
            }
            self._queue(
                "INSERT OR REPLACE INTO tool_docs(tool, doc, updated) VALUES (?,?,?)",
                (d.key, json.dumps(doc, default=str), ts),
            )

    def add_outcome(
        self,
        ranking_id: str,
        *,
        ts: float,
        tool: str,
        rank: int | None,
        ok: bool,
        error: str | None,
        first_hit: bool,
    ) -> None:
        self._queue(
            "INSERT INTO outcomes(ranking_id, ts, tool, rank, ok, error) VALUES (?,?,?,?,?,?)",
            (ranking_id, ts, tool, rank, int(ok), error),
        )
        if first_hit:
            self._queue("UPDATE rankings SET hit = 1 WHERE id = ?", (ranking_id,))
            day = time.strftime("%Y-%m-%d", time.gmtime(ts))
            self._queue(
                "INSERT INTO daily(day, rankings, hits) VALUES (?,0,1) "
                "ON CONFLICT(day) DO UPDATE SET hits = hits + 1",
                (day,),
            )

    def save_tools(self, rows: Iterable[ToolRow]) -> None:
        for r in rows:
            self._queue(
                "INSERT OR REPLACE INTO tool_stats(tool, alpha, beta, shown, called, succeeded, failed, explored, "
                "usage_sum, usage_count, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    r.tool,
                    r.alpha,
                    r.beta,
                    r.shown,
                    r.called,
                    r.succeeded,
                    r.failed,
                    r.explored,
                    r.usage_sum,
                    r.usage_count,
                    r.updated,
                ),
            )

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return 0
            self._db.execute("BEGIN")
            try:
                for sql, args in pending:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except Exception:
                self._db.execute("ROLLBACK")
                raise
        return len(pending)

    # ------------------------------------------------------------ reads
    def load_tools(self) -> list[ToolRow]:
        with self._lock:
            rows = self._db.execute(
                "SELECT tool, alpha, beta, shown, called, succeeded, failed, explored, usage_sum, usage_count, updated "
                "FROM tool_stats"
            ).fetchall()
        return [ToolRow(*r) for r in rows]

    def daily(self, days: int = 30) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT day, rankings, hits FROM daily ORDER BY day DESC LIMIT ?", (days,)
            ).fetchall()
        return [
            {"day": d, "rankings": n, "hits": h, "hit_rate": round(h / n, 4) if n else None}
            for d, n, h in rows
        ]

    def arms(self, days: int = 30) -> list[dict[str, Any]]:
        """Rankings and hit rate (share followed by a call of a shown tool) per served model (A/B)."""
        self.flush()
        since = time.time() - days * 86400
        with self._lock:
            rows = self._db.execute(
                "SELECT COALESCE(NULLIF(arm, ''), 'base'), COUNT(*), SUM(hit) FROM rankings WHERE ts >= ? "
                "GROUP BY 1 ORDER BY 1",
                (since,),
            ).fetchall()
        return [
            {"arm": a, "rankings": int(n), "hits": int(h or 0), "hit_rate": (h or 0) / n if n else 0.0}
            for a, n, h in rows
        ]

    def count_events(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM rankings").fetchone()[0])

    # ------------------------------------------------------------ bounds
    def compact(self, now: float | None = None) -> int:
        """Delete events past retention and beyond ``max_events``; returns rankings deleted."""
        self.flush()
        cutoff = (now if now is not None else time.time()) - self.retention_days * 86400
        with self._lock:
            before = int(self._db.execute("SELECT COUNT(*) FROM rankings").fetchone()[0])
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM rankings WHERE ts < ?", (cutoff,))
            self._db.execute(
                "DELETE FROM rankings WHERE id IN (SELECT id FROM rankings ORDER BY ts DESC LIMIT -1 OFFSET ?)",
                (self.max_events,),
            )
            self._db.execute("DELETE FROM outcomes WHERE ranking_id NOT IN (SELECT id FROM rankings)")
            self._db.execute("COMMIT")
            after = int(self._db.execute("SELECT COUNT(*) FROM rankings").fetchone()[0])
        return before - after

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            self._db.execute("BEGIN")
            for table in ("rankings", "outcomes", "tool_stats", "daily"):
                self._db.execute(f"DELETE FROM {table}")
            self._db.execute("COMMIT")
            self._db.execute("VACUUM")
