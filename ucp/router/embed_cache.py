"""A persistent cache of tool embeddings in LanceDB, keyed by (model id, content hash).

Rows: ``model_id``, ``content_hash``, ``vector`` (list<float32>), ``last_seen``
(unix seconds, refreshed at most once per ``touch_interval_s`` when a row is
read).  An unchanged tool is never embedded twice, across restarts.

Bounded: :meth:`EmbedCache.prune` drops rows not seen for ``max_age_s`` and the
oldest rows past ``max_rows``, then compacts the table (LanceDB keeps a version
per write; compaction folds fragments and deletes old versions).  Writes call it
every ``compact_every`` writes.

Robust: a table that cannot be opened or read (corrupted files, an incompatible
schema) is dropped and recreated with a warning; the cache is only a cache.
``lancedb`` is imported on first use (it takes seconds to import).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

log = structlog.get_logger(__name__)

Vector = npt.NDArray[np.float32]

TABLE = "tool_embeddings"
DAY = 86_400.0
# Table versions older than this are deleted on compaction (younger ones may still be
# read by another UCP process sharing the data directory).
CLEANUP_OLDER_THAN = timedelta(hours=1)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _vectors(column: Any) -> list[Vector | None]:
    """A list<float32> arrow column as numpy rows (one reshape when all rows have the same length)."""
    arr = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    lengths = arr.value_lengths().to_numpy(zero_copy_only=False)
    lengths = np.nan_to_num(lengths.astype(np.float64), nan=-1).astype(np.int64)  # null rows -> -1
    values = arr.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    if len(lengths) and (lengths == lengths[0]).all() and lengths[0] > 0:
        return list(values.reshape(len(lengths), int(lengths[0])))
    out: list[Vector | None] = []
    pos = 0
    for n in lengths:
        if n <= 0:
            out.append(None)
            continue
        out.append(values[pos : pos + n])
        pos += int(n)
    return out


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
        self._clock = clock
        self._touch_interval = touch_interval_s
        self.max_age_s = max_age_s
        self.max_rows = max_rows
        self._compact_every = compact_every
        self._writes = 0
        self._lock = threading.RLock()
        self._db: Any = None
        self._table: Any = None

    # ------------------------------------------------------------------ table
    def _schema(self) -> Any:
        import pyarrow as pa

        return pa.schema(
            [
                pa.field("model_id", pa.string()),
                pa.field("content_hash", pa.string()),
                pa.field("vector", pa.list_(pa.float32())),
                pa.field("last_seen", pa.float64()),
            ]
        )

    def _open(self) -> Any:
        if self._table is not None:
            return self._table
        import lancedb

        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._db = lancedb.connect(str(self.directory))
            table = self._db.create_table(self.table_name, schema=self._schema(), exist_ok=True)
            if set(table.schema.names) != set(self._schema().names):
                raise ValueError(f"unexpected columns {table.schema.names}")
            table.count_rows()
        except Exception as exc:
            table = self._rebuild(exc)
        self._table = table
        return table

    def _rebuild(self, exc: BaseException) -> Any:
        """Drop the (corrupted) table and create an empty one."""
        import lancedb

        log.warning(
            "embed_cache_rebuilt",
            directory=str(self.directory),
            table=self.table_name,
            error=f"{type(exc).__name__}: {exc}",
        )
        self._table = None
        try:
            if self._db is not None:
                self._db.drop_table(self.table_name)
        except Exception:
            pass
        shutil.rmtree(self.directory / f"{self.table_name}.lance", ignore_errors=True)
        self._db = lancedb.connect(str(self.directory))
        return self._db.create_table(self.table_name, schema=self._schema(), exist_ok=True)

    def _read(self, model_id: str) -> Any:
        """All rows of one model as a pyarrow Table (rebuilds the table if it is unreadable)."""
        table = self._open()
        where = f"model_id = {_sql_str(model_id)}"
        try:
            return table.search().where(where).limit(None).to_arrow()
        except Exception as exc:
            self._table = self._rebuild(exc)
            return self._table.search().where(where).limit(None).to_arrow()

    # ------------------------------------------------------------------ API
    def get_many(self, model_id: str, hashes: Iterable[str]) -> dict[str, Vector]:
        """Cached vectors of the given content hashes for a model (missing hashes are absent)."""
        wanted = set(hashes)
        if not wanted:
            return {}
        with self._lock:
            rows = self._read(model_id)
            if rows.num_rows == 0:
                return {}
            hash_col = rows.column("content_hash").to_pylist()
            vec_col = _vectors(rows.column("vector"))
            seen_col = rows.column("last_seen").to_numpy(zero_copy_only=False)
            out: dict[str, Vector] = {}
            stale: list[tuple[str, Vector]] = []
            now = self._clock()
            for i, h in enumerate(hash_col):
                vec = vec_col[i]
                if h in wanted and h not in out and vec is not None and len(vec):
                    out[h] = vec
                    if now - float(np.nan_to_num(seen_col[i])) >= self._touch_interval:
                        stale.append((h, vec))
            if stale:
                self._upsert(model_id, dict(stale), now)
            return out

    def put_many(self, model_id: str, vectors: Mapping[str, npt.NDArray[np.floating]]) -> None:
        """Store vectors (content hash -> vector) for a model; existing rows are replaced."""
        if not vectors:
            return
        with self._lock:
            self._upsert(model_id, vectors, self._clock())
            self._writes += 1
            if self._compact_every and self._writes % self._compact_every == 0:
                self.prune()

    def _upsert(self, model_id: str, vectors: Mapping[str, npt.NDArray[np.floating]], now: float) -> None:
        import pyarrow as pa

        hashes = list(vectors)
        rows = [np.asarray(vectors[h], dtype=np.float32).reshape(-1) for h in hashes]
        offsets = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum([len(r) for r in rows], out=offsets[1:])
        flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.float32)
        data = pa.table(
            {
                "model_id": pa.array([model_id] * len(hashes), pa.string()),
                "content_hash": pa.array(hashes, pa.string()),
                "vector": pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, pa.float32())),
                "last_seen": pa.array([now] * len(hashes), pa.float64()),
            },
            schema=self._schema(),
        )
        table = self._open()
        try:
            self._merge(table, data)
        except Exception as exc:
            self._table = self._rebuild(exc)
            self._merge(self._table, data)

    @staticmethod
    def _merge(table: Any, data: Any) -> None:
        (
            table.merge_insert(["model_id", "content_hash"])
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(data)
        )

    def count(self) -> int:
        with self._lock:
            return int(self._open().count_rows())

    def prune(self, *, max_age_s: float | None = None, max_rows: int | None = None) -> int:
        """Drop rows unseen for ``max_age_s`` and the oldest past ``max_rows``; compact. Returns rows dropped."""
        max_age = self.max_age_s if max_age_s is None else max_age_s
        cap = self.max_rows if max_rows is None else max_rows
        with self._lock:
            table = self._open()
            before = int(table.count_rows())
            table.delete(f"last_seen < {self._clock() - max_age!r}")
            remaining = int(table.count_rows())
            if remaining > cap:
                cols = table.to_arrow().select(["model_id", "content_hash", "last_seen"])
                order = np.argsort(cols.column("last_seen").to_numpy(zero_copy_only=False), kind="stable")
                victims = order[: remaining - cap]
                models = cols.column("model_id").to_pylist()
                hashes = cols.column("content_hash").to_pylist()
                by_model: dict[str, list[str]] = {}
                for i in victims.tolist():
                    by_model.setdefault(models[i], []).append(hashes[i])
                for model, hs in by_model.items():
                    for start in range(0, len(hs), 500):
                        chunk = ", ".join(_sql_str(h) for h in hs[start : start + 500])
                        table.delete(f"model_id = {_sql_str(model)} AND content_hash IN ({chunk})")
            self.compact()
            return before - int(table.count_rows())

    def compact(self) -> None:
        """Fold fragments and delete old table versions (disk space)."""
        with self._lock:
            try:
                self._open().optimize(cleanup_older_than=CLEANUP_OLDER_THAN)
            except Exception as exc:  # compaction is housekeeping: never fatal
                log.warning("embed_cache_compact_failed", error=f"{type(exc).__name__}: {exc}")
