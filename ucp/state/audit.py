"""The audit log shared by replicas: each replica's lines shipped to one PostgreSQL table.

Durability first: a replica never holds an audit line only in memory. ``append`` writes the line
(with a unique ``id`` and the replica's name) to a spool file under ``UCP_HOME/audit`` in the same
synchronous step as the local log, and ``ship`` (the gateway's save loop, every 2 s, off the
protocol loop) copies what the spool holds beyond its shipped offset into PostgreSQL in one
transaction, ``ON CONFLICT (id) DO NOTHING`` (so a crash between the insert and the offset update
re-sends lines harmlessly), then advances the offset, and empties the spool once all of it is
shipped. While PostgreSQL is down the spool grows on the replica's disk (``backlog`` says how
much) and drains on recovery: no line is lost unless the replica's disk is.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from ucp.log import get_logger

log = get_logger("ucp.state.audit")

SPOOL = "spool.jsonl"
OFFSET = "spool.offset"
BATCH = 5000
TABLE = """
CREATE TABLE IF NOT EXISTS audit (
    id TEXT PRIMARY KEY, time DOUBLE PRECISION NOT NULL, event TEXT NOT NULL, outcome TEXT,
    tenant TEXT, identity TEXT, tool TEXT, replica TEXT, line JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_time ON audit(time)
"""


class AuditShipper:
    def __init__(
        self, directory: Path, conninfo: str, *, schema: str = "ucp", connect_timeout: float = 2.0
    ) -> None:
        self.directory = directory
        self.conninfo = conninfo
        self.schema = schema
        self.connect_timeout = connect_timeout
        self.spool = directory / SPOOL
        self.offset_path = directory / OFFSET
        self.failing = False
        self._lock = threading.Lock()  # the spool's writer and its truncation
        self._ship_lock = threading.Lock()
        self._conn: Any = None

    # ------------------------------------------------------------ writing (the call path)
    def append(self, text: str) -> None:
        """One JSON line (newline-terminated) into the spool; raises ``OSError`` when it cannot."""
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, text.encode("utf-8"))
            finally:
                os.close(fd)

    def _offset(self) -> int:
        try:
            return int(self.offset_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def backlog(self) -> int:
        """Bytes of audit lines not yet in PostgreSQL."""
        try:
            size = self.spool.stat().st_size
        except FileNotFoundError:
            return 0
        return max(0, size - self._offset())

    # ------------------------------------------------------------ shipping (a worker thread)
    def _db(self) -> Any:
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
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('ucp.audit.schema'))")
            for statement in TABLE.split(";"):
                if statement.strip():
                    conn.execute(statement)
        self._conn = conn
        return conn

    def ship(self) -> int:
        """Copy the unshipped spool into PostgreSQL; returns the lines shipped (0 on failure: kept)."""
        with self._ship_lock:
            shipped = 0
            while True:
                offset = self._offset()
                try:
                    with self.spool.open("rb") as fh:
                        fh.seek(offset)
                        chunk = [fh.readline() for _ in range(BATCH)]
                except FileNotFoundError:
                    return shipped
                chunk = [c for c in chunk if c.endswith(b"\n")]  # a line being written stays for later
                if not chunk:
                    self._truncate_if_done()
                    return shipped
                rows = []
                for raw in chunk:
                    try:
                        line = json.loads(raw)
                    except ValueError:
                        continue
                    rows.append(
                        (
                            line.get("id"),
                            line.get("time", 0.0),
                            line.get("event", ""),
                            line.get("outcome"),
                            line.get("tenant"),
                            line.get("identity"),
                            line.get("tool"),
                            line.get("replica"),
                            raw.decode("utf-8"),
                        )
                    )
                try:
                    conn = self._db()
                    with conn.transaction(), conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO audit(id, time, event, outcome, tenant, identity, tool, replica, line) "
                            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb) ON CONFLICT (id) DO NOTHING",
                            [r for r in rows if r[0]],
                        )
                except Exception as exc:
                    self.disconnect()
                    if not self.failing:
                        self.failing = True
                        log.warning(
                            "audit_store_unreachable",
                            error=type(exc).__name__,
                            backlog_bytes=self.backlog(),
                            action="keeping audit lines in the local spool until PostgreSQL is back",
                        )
                    return shipped
                if self.failing:
                    self.failing = False
                    log.info("audit_store_recovered")
                self._write_offset(offset + sum(len(c) for c in chunk))
                shipped += len(rows)

    def _write_offset(self, value: int) -> None:
        tmp = self.offset_path.with_suffix(".tmp")
        tmp.write_text(str(value))
        tmp.replace(self.offset_path)

    def _truncate_if_done(self) -> None:
        with self._lock:
            try:
                size = self.spool.stat().st_size
            except FileNotFoundError:
                return
            if size and size == self._offset():
                self.spool.unlink()
                self._write_offset(0)

    def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def close(self) -> None:
        self.ship()
        self.disconnect()

    # ------------------------------------------------------------ reading (ucp audit)
    def read(self, *, since: float | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        """Every replica's newest ``limit`` lines, oldest first (the caller filters further)."""
        rows = self._db().execute(
            "SELECT line FROM audit WHERE time >= %s ORDER BY time DESC, id DESC LIMIT %s",
            (since or 0.0, limit),
        )
        return [r[0] for r in reversed(rows.fetchall())]
