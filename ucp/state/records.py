"""The call records behind the analytics API, in PostgreSQL: every replica's calls in one table.

The shared counterpart of ``ucp.observe.records.CallRecords`` (same methods and bounds: rows are
buffered in memory, at most ``MAX_PENDING``, the oldest dropped and counted, and flushed in one
transaction by the gateway's save loop; ``compact`` keeps the newest ``max_rows``). ``query``
takes the analytics' SQL with ``?`` placeholders (the analytics SQL is written to run on both
SQLite and PostgreSQL). While PostgreSQL is down the buffer is kept for the next flush.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import astuple
from typing import Any

from ucp.state.pg import connect_schema, to_pg

MAX_PENDING = 50_000
TABLE = """
CREATE TABLE IF NOT EXISTS calls (
    ts DOUBLE PRECISION NOT NULL, session TEXT, client TEXT, server TEXT NOT NULL, tool TEXT NOT NULL,
    outcome TEXT NOT NULL, error_code TEXT, duration_ms DOUBLE PRECISION NOT NULL, downstream_ms DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls(ts)
"""


class PgCallRecords:
    def __init__(
        self, conninfo: str, *, schema: str = "ucp", max_rows: int = 100_000, connect_timeout: float = 2.0
    ) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.max_rows = max_rows
        self.connect_timeout = connect_timeout
        self.dropped = 0
        self.path = f"postgresql schema {schema}"
        self._lock = threading.Lock()
        self._pending: deque[Any] = deque()
        self._conn: Any = None

    def _db(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = connect_schema(self.conninfo, self.schema, TABLE, self.connect_timeout)
        return self._conn

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def add(self, record: Any) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(record)

    def flush(self) -> int:
        with self._lock:
            rows = [astuple(r) for r in self._pending]
            if not rows:
                return 0
            try:
                conn = self._db()
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany("INSERT INTO calls VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)", rows)
            except Exception:
                self._disconnect()
                raise
            self._pending.clear()
        return len(rows)

    def compact(self) -> int:
        with self._lock:
            cur = self._db().execute(
                "DELETE FROM calls WHERE ctid IN (SELECT ctid FROM calls ORDER BY ts DESC OFFSET %s)",
                (self.max_rows,),
            )
            return int(cur.rowcount)

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.flush()
        with self._lock:
            try:
                return list(self._db().execute(to_pg(sql), args).fetchall())
            except Exception:
                self._disconnect()
                raise

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                self._disconnect()
