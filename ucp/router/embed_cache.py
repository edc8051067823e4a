"""A persistent cache of tool embeddings in SQLite, keyed by (model id, content hash).

Rows: ``model_id``, ``content_hash``, ``vector`` (float32 bytes), ``last_seen`` (unix seconds,
refreshed at most once per ``touch_interval_s`` when a row is read).  An unchanged tool is never
embedded twice, across restarts.  One file per table, ``DIRECTORY/TABLE.sqlite3``, in WAL mode
with a busy timeout, so several UCP processes (workers, a second host's UCP) share it safely.

Why SQLite and not LanceDB (what this cache used to be): the cache is a key-value lookup of a
few hundred to a few tens of thousands of rows, never a vector search (FAISS does that in
memory). LanceDB and pyarrow weigh ~350 MB installed and take seconds to import; ``sqlite3`` is
in the standard library. Measured side by side at 500 and 10,000 tools (384-dim vectors, 2 shared
cores; RETRIEVAL.md, "A lighter cache"): writing 10,000 rows 356 vs 850 ms, reading them all after a
restart 157 vs 355 ms, adding one row 0.4 vs 64 ms, importing 12 ms vs several seconds. Rows are
ordinary rowid rows (``WITHOUT ROWID`` is slow for 1.5 KB blobs: 4x the write time, 6x the disk).

Bounded: :meth:`EmbedCache.prune` drops rows not seen for ``max_age_s`` and the oldest rows past
``max_rows``, then checkpoints the WAL and returns free pages to the file system.  Writes call it
every ``compact_every`` writes.

Robust: a file that cannot be opened or read (corrupted, not a database, an unexpected schema)
is deleted and recreated with a warning; the cache is only a cache.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import structlog

log = structlog.get_logger(__name__)

Vector = npt.NDArray[np.float32]

TABLE = "tool_embeddings"
DAY = 86_400.0
CHUNK = 500  # host parameters per IN (...) query
BUSY_TIMEOUT_MS = 10_000
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS embeddings (model_id TEXT NOT NULL, content_hash TEXT NOT NULL, "
    "vector BLOB NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (model_id, content_hash))"
)
_COLUMNS = ["model_id", "content_hash", "vector", "last_seen"]


class EmbedCache:
    """Get/put embeddings by content hash under ``directory`` (e.g. ``$UCP_HOME/index``). Thread-safe."""

    def __init__(
        self,
        directory: str | Path,
        *,
        table: str = TABLE,
        clock: Callable[[], float] = time.time,
        touch_interval_s: float = DAY,
        max_age_s: float = 90 * DAY,
        max_rows: int = 500_000,
        compact_every: int = 50,
    ) -> None:
        self.directory = Path(directory)
        self.table_name = table
        self.path = self.directory / f"{table}.sqlite3"
        self._clock = clock
        self._touch_interval = touch_interval_s
        self.max_age_s = max_age_s
        self.max_rows = max_rows
        self._compact_every = compact_every
        self._writes = 0
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    # ------------------------------------------------------------------ file
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
        )
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect on a new file only
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA journal_size_limit = 4194304")  # the WAL shrinks back after a checkpoint
            db.execute(_SCHEMA)
            columns = [row[1] for row in db.execute("PRAGMA table_info(embeddings)")]
            if columns != _COLUMNS:
                raise sqlite3.DatabaseError(f"unexpected columns {columns}")
            db.execute("SELECT count(*) FROM embeddings").fetchone()
        except BaseException:
            db.close()
            raise
        return db

    def _open(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            self._db = self._rebuild(exc)
        return self._db

    def _rebuild(self, exc: BaseException) -> sqlite3.Connection:
        """Delete the (corrupted) file and create an empty one."""
        log.warning(
            "embed_cache_rebuilt",
            directory=str(self.directory),
            table=self.table_name,
            error=f"{type(exc).__name__}: {exc}",
        )
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self._db = self._connect()
        return self._db

    def _run(self, fn: Callable[[sqlite3.Connection], object]) -> object:
        """``fn(connection)``; a corrupted file is rebuilt once and ``fn`` retried on the empty one."""
        db = self._open()
        try:
            return fn(db)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise  # another process holds the file longer than the busy timeout: not corruption
            return fn(self._rebuild(exc))

    # ------------------------------------------------------------------ API
    def get_many(self, model_id: str, hashes: Iterable[str]) -> dict[str, Vector]:
        """Cached vectors of the given content hashes for a model (missing hashes are absent)."""
        wanted = list(dict.fromkeys(hashes))
        if not wanted:
            return {}
        with self._lock:

            def read(db: sqlite3.Connection) -> list[tuple[str, bytes, float]]:
                rows: list[tuple[str, bytes, float]] = []
                for start in range(0, len(wanted), CHUNK):
                    chunk = wanted[start : start + CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows += db.execute(
                        f"SELECT content_hash, vector, last_seen FROM embeddings "
                        f"WHERE model_id = ? AND content_hash IN ({marks})",
                        [model_id, *chunk],
                    ).fetchall()
                return rows

            rows = self._run(read)
            assert isinstance(rows, list)
            now = self._clock()
            out: dict[str, Vector] = {}
            stale: list[str] = []
            for h, blob, seen in rows:
                if not blob:
                    continue
                out[h] = np.frombuffer(blob, dtype=np.float32).copy()
                if now - float(seen) >= self._touch_interval:
                    stale.append(h)
            if stale:

                def touch(db: sqlite3.Connection) -> None:
                    db.executemany(
                        "UPDATE embeddings SET last_seen = ? WHERE model_id = ? AND content_hash = ?",
                        [(now, model_id, h) for h in stale],
                    )

                self._run(touch)
            return out

    def put_many(self, model_id: str, vectors: Mapping[str, npt.NDArray[np.floating]]) -> None:
        """Store vectors (content hash -> vector) for a model; existing rows are replaced."""
        if not vectors:
            return
        now = self._clock()
        rows = [
            (model_id, h, np.ascontiguousarray(np.asarray(v, dtype=np.float32).reshape(-1)).tobytes(), now)
            for h, v in vectors.items()
        ]
        with self._lock:

            def write(db: sqlite3.Connection) -> None:
                with db:  # one transaction
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", rows)

            self._run(write)
            self._writes += 1
            if self._compact_every and self._writes % self._compact_every == 0:
                self.prune()

    def count(self) -> int:
        with self._lock:
            row = self._run(lambda db: db.execute("SELECT count(*) FROM embeddings").fetchone())
            assert isinstance(row, tuple)
            return int(row[0])

    def prune(self, *, max_age_s: float | None = None, max_rows: int | None = None) -> int:
        """Drop rows unseen for ``max_age_s`` and the oldest past ``max_rows``; compact. Returns rows dropped."""
        max_age = self.max_age_s if max_age_s is None else max_age_s
        cap = self.max_rows if max_rows is None else max_rows
        cutoff = self._clock() - max_age
        with self._lock:

            def prune(db: sqlite3.Connection) -> int:
                with db:
                    db.execute("BEGIN IMMEDIATE")
                    dropped = db.execute("DELETE FROM embeddings WHERE last_seen < ?", (cutoff,)).rowcount
                    (remaining,) = db.execute("SELECT count(*) FROM embeddings").fetchone()
                    if remaining > cap:
                        dropped += db.execute(
                            "DELETE FROM embeddings WHERE (model_id, content_hash) IN (SELECT model_id, "
                            "content_hash FROM embeddings ORDER BY last_seen, content_hash LIMIT ?)",
                            (remaining - cap,),
                        ).rowcount
                return int(dropped)

            dropped = self._run(prune)
            assert isinstance(dropped, int)
            self.compact()
            return dropped

    def compact(self) -> None:
        """Checkpoint the WAL into the file and return free pages (disk space)."""
        with self._lock:
            try:
                db = self._open()
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                db.execute("PRAGMA incremental_vacuum").fetchall()
            except sqlite3.Error as exc:  # compaction is housekeeping: never fatal
                log.warning("embed_cache_compact_failed", error=f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
