"""The call records behind the analytics API: one row per tool call (SQLite, WAL, bounded).

The feedback store (``ucp/router/feedback.py``) knows rankings and the calls
that followed them, but not every call (a full-mode client calls tools without
searching) nor its latency; this store does. It lives at
``$UCP_HOME/state/calls.sqlite``. Rows carry names, outcomes and durations only
(never arguments or results). Writes are buffered in memory and flushed in one
transaction by the gateway's background loop, so the call path never waits on
the disk; the buffer itself is bounded (beyond it the oldest unflushed rows are
dropped and counted). ``compact`` keeps the newest ``max_rows``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, Protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    ts REAL NOT NULL, session TEXT, client TEXT, server TEXT NOT NULL, tool TEXT NOT NULL,
    outcome TEXT NOT NULL, error_code TEXT, duration_ms REAL NOT NULL, downstream_ms REAL
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls(ts);
"""

MAX_PENDING = 50_000


@dataclass(frozen=True, slots=True)
class CallRecord:
    ts: float
    session: str
    client: str
    server: str
    tool: str
    outcome: str  # "ok" | "error"
    error_code: str | None
    duration_ms: float
    downstream_ms: float | None


class RecordStore(Protocol):
    """Where call records go: this SQLite store, or PostgreSQL when replicas share state
    (``ucp.state.records.PgCallRecords``)."""

    dropped: int

    def add(self, record: CallRecord) -> None: ...
    def flush(self) -> int: ...
    def compact(self) -> int: ...
    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]: ...
    def close(self) -> None: ...


class CallRecords:
    def __init__(self, path: Path | str, *, max_rows: int = 100_000) -> None:
        self.path = Path(path)
        self.max_rows = max_rows
        self.dropped = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pending: deque[CallRecord] = deque()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def add(self, record: CallRecord) -> None:
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self._pending.popleft()
                self.dropped += 1
            self._pending.append(record)

    def flush(self) -> int:
        with self._lock:
            rows = [astuple(r) for r in self._pending]
            self._pending.clear()
            if not rows:
                return 0
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?)", rows)
                self._db.execute("COMMIT")
            except Exception:
                self._db.execute("ROLLBACK")
                raise
        return len(rows)

    def compact(self) -> int:
        """Keep the newest ``max_rows`` rows; returns how many were deleted."""
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM calls WHERE rowid IN (SELECT rowid FROM calls ORDER BY ts DESC LIMIT -1 OFFSET ?)",
                (self.max_rows,),
            )
            return cur.rowcount

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read-only queries of the analytics (pending rows flushed first)."""
        self.flush()
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._db.close()
