"""The feedback events (rankings shown, outcomes, daily hit rates, tool definitions) in PostgreSQL.

The shared counterpart of ``ucp.router.feedback.FeedbackStore`` (same methods, same buffering:
writes are queued in memory and flushed in one transaction by the gateway's save loop, off the
protocol loop), for replicas that share one history: ``ucp stats``, compaction and ``--reset`` see
every replica's events. The learned statistics are not here (they live in Redis,
``ucp.state.learning``): ``save_tools`` is a no-op and ``load_tools`` is empty.

Tables live in the schema named by ``[state] namespace``. Compaction (retention and ``max_events``)
runs from any replica; concurrent compactions are harmless (both delete the same rows). While
PostgreSQL is unreachable the queue keeps up to ``max_pending`` statements (the oldest beyond it are
dropped and counted in ``dropped``) and the connection is retried at the next flush.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from ucp.log import get_logger
from ucp.state.pg import to_pg

log = get_logger("ucp.state.feedback")

SCHEMA = """
CREATE TABLE IF NOT EXISTS rankings (
    id TEXT PRIMARY KEY, ts DOUBLE PRECISION NOT NULL, session TEXT, source TEXT, query TEXT,
    shown TEXT NOT NULL, mode TEXT, arm TEXT, hit INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS rankings_ts ON rankings(ts);
CREATE TABLE IF NOT EXISTS outcomes (
    ranking_id TEXT NOT NULL, ts DOUBLE PRECISION NOT NULL, tool TEXT NOT NULL, rank INTEGER,
    ok INTEGER NOT NULL, error TEXT
);
CREATE INDEX IF NOT EXISTS outcomes_ranking ON outcomes(ranking_id);
CREATE TABLE IF NOT EXISTS tool_docs (tool TEXT PRIMARY KEY, doc TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS daily (day TEXT PRIMARY KEY, rankings INTEGER NOT NULL, hits INTEGER NOT NULL);
"""


class DocLike(Protocol):
    """What a tool definition must have to be stored (``ucp.router.documents.ToolDoc`` has it)."""

    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def input_schema(self) -> Any: ...
    @property
    def tags(self) -> Any: ...
    @property
    def title(self) -> Any: ...


class PgFeedbackStore:
    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "ucp",
        retention_days: float = 90.0,
        max_events: int = 200_000,
        max_pending: int = 100_000,
        connect_timeout: float = 2.0,
    ) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.path = f"postgresql schema {schema}"  # what `ucp stats` names as the events' home (no URL)
        self.retention_days = retention_days
        self.max_events = max_events
        self.max_pending = max_pending
        self.connect_timeout = connect_timeout
        self.dropped = 0
        self._lock = threading.Lock()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        self._conn: Any = None

    # ------------------------------------------------------------ connection
    def _db(self) -> Any:
        """The connection (opened, schema created, at first use and after a failure)."""
        if self._conn is not None and not self._conn.closed:
            return self._conn
        import psycopg
        from psycopg import sql

        conn = psycopg.connect(
            self.conninfo, connect_timeout=max(1, int(self.connect_timeout)), autocommit=True
        )
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ucp.feedback.schema'))")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
        self._conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def close(self) -> None:
        try:
            self.flush()
        except Exception as exc:
            log.warning("feedback_events_not_saved", error=type(exc).__name__, pending=len(self._pending))
        with self._lock:
            self._drop_connection()

    # ------------------------------------------------------------ buffered writes
    def _queue(self, statement: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._pending.append((statement, args))
            if len(self._pending) > self.max_pending:
                del self._pending[0]
                self.dropped += 1

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
            "INSERT INTO rankings(id, ts, session, source, query, shown, mode, arm) VALUES (%s,%s,%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (id) DO UPDATE SET ts = EXCLUDED.ts, shown = EXCLUDED.shown",
            (ranking_id, ts, session, source, query[:2000], json.dumps(list(shown)), mode, arm),
        )
        self._queue(
            "INSERT INTO daily AS d (day, rankings, hits) VALUES (%s,1,0) "
            "ON CONFLICT (day) DO UPDATE SET rankings = d.rankings + 1",
            (_day(ts),),
        )

    def add_tool_docs(self, docs: Iterable[DocLike], ts: float) -> None:
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
                "INSERT INTO tool_docs(tool, doc, updated) VALUES (%s,%s,%s) "
                "ON CONFLICT (tool) DO UPDATE SET doc = EXCLUDED.doc, updated = EXCLUDED.updated",
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
            "INSERT INTO outcomes(ranking_id, ts, tool, rank, ok, error) VALUES (%s,%s,%s,%s,%s,%s)",
            (ranking_id, ts, tool, rank, int(ok), error),
        )
        if first_hit:
            self._queue("UPDATE rankings SET hit = 1 WHERE id = %s", (ranking_id,))
            self._queue(
                "INSERT INTO daily AS d (day, rankings, hits) VALUES (%s,0,1) "
                "ON CONFLICT (day) DO UPDATE SET hits = d.hits + 1",
                (_day(ts),),
            )

    def save_tools(self, rows: Iterable[Any]) -> None:
        """The statistics are in Redis (``ucp.state.learning``): nothing to write here."""

    def load_tools(self) -> list[Any]:
        return []

    def flush(self) -> int:
        """Write the queue in one transaction; on failure the queue is kept and the error raised."""
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return 0
            try:
                conn = self._db()
                with conn.transaction(), conn.cursor() as cur:
                    for statement, args in pending:
                        cur.execute(statement, args)
            except Exception:
                self._drop_connection()
                self._pending = pending + self._pending
                if len(self._pending) > self.max_pending:
                    excess = len(self._pending) - self.max_pending
                    del self._pending[:excess]
                    self.dropped += excess
                raise
        return len(pending)

    # ------------------------------------------------------------ reads
    def _rows(self, statement: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db().execute(statement, args).fetchall())
            except Exception:
                self._drop_connection()
                raise

    def query(self, statement: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read of the analytics, written with SQLite's ``?`` placeholders."""
        return self._rows(to_pg(statement), args)

    def daily(self, days: int = 30) -> list[dict[str, Any]]:
        rows = self._rows("SELECT day, rankings, hits FROM daily ORDER BY day DESC LIMIT %s", (days,))
        return [
            {"day": d, "rankings": n, "hits": h, "hit_rate": round(h / n, 4) if n else None}
            for d, n, h in rows
        ]

    def arms(self, days: int = 30) -> list[dict[str, Any]]:
        self.flush()
        since = time.time() - days * 86400
        rows = self._rows(
            "SELECT COALESCE(NULLIF(arm, ''), 'base'), COUNT(*), SUM(hit) FROM rankings WHERE ts >= %s "
            "GROUP BY 1 ORDER BY 1",
            (since,),
        )
        return [
            {"arm": a, "rankings": int(n), "hits": int(h or 0), "hit_rate": (h or 0) / n if n else 0.0}
            for a, n, h in rows
        ]

    def count_events(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM rankings")[0][0])

    # ------------------------------------------------------------ bounds
    def compact(self, now: float | None = None) -> int:
        """Delete events past retention and beyond ``max_events``; returns rankings deleted."""
        self.flush()
        cutoff = (now if now is not None else time.time()) - self.retention_days * 86400
        with self._lock:
            conn = self._db()
            with conn.transaction():
                before = int(conn.execute("SELECT COUNT(*) FROM rankings").fetchone()[0])
                conn.execute("DELETE FROM rankings WHERE ts < %s", (cutoff,))
                conn.execute(
                    "DELETE FROM rankings WHERE id IN (SELECT id FROM rankings ORDER BY ts DESC OFFSET %s)",
                    (self.max_events,),
                )
                conn.execute(
                    "DELETE FROM outcomes o WHERE NOT EXISTS (SELECT 1 FROM rankings r WHERE r.id = o.ranking_id)"
                )
                after = int(conn.execute("SELECT COUNT(*) FROM rankings").fetchone()[0])
        return before - after

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            conn = self._db()
            with conn.transaction():
                conn.execute("TRUNCATE rankings, outcomes, daily")


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))
