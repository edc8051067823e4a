"""Inner-product vector index over L2-normalised tool embeddings (FAISS).

Exact (``IndexFlatIP``) for catalogs up to :data:`APPROX_THRESHOLD` vectors, HNSW
(``IndexHNSWFlat``, inner product) past it.  Measured 2026-11-23 on this
project's machines (2 shared cores, AVX2), MiniLM embeddings of the 663 dev
tools replicated with noise (clusters of near-duplicates: a hard case for HNSW),
200 dev queries, one query at a time as routing does, FAISS on one OpenMP thread:

=========  ================  =================  ==============================  ==========
vectors    exact, all rows   FAISS flat top-50  HNSW M=32 efSearch=512 top-50   HNSW build
           p50 / p99         p50 / p99          p50 / p99, recall@50            (1 thread)
=========  ================  =================  ==============================  ==========
 10,000    0.8 / 1.2 ms      0.9 / 1.1 ms       0.9 / 1.5 ms, 1.000             1.4 s
 50,000    4.5 / 7.5 ms      6.2 / 10.1 ms      1.0 / 1.7 ms, 0.997             10.5 s
100,000    9.5 / 14.5 ms     14.0 / 21.8 ms     1.1 / 2.3 ms, 0.980             21.3 s
200,000    20.9 / 27.4 ms    23.8 / 29.8 ms     1.2 / 5.6 ms, 0.961             46.5 s
=========  ================  =================  ==============================  ==========

(efSearch 128: 0.3 ms but recall@50 0.93 at 50k and 0.79 at 200k; 256: 0.98 / 0.87.)
Exact scoring of every tool (``scores(q)``, FAISS's SIMD inner-product kernel) —
which the hybrid uses while the index is flat, so fusion sees every tool's true
cosine — stays under ~5 ms up to 50,000 tools, a small part of the 20 ms routing
budget next to the 10-15 ms query encoding; past that it grows linearly (9.5 ms
at 100k) while HNSW stays near 1 ms with recall above 0.96.  Hence ``APPROX_THRESHOLD = 50_000``.

FAISS's default OpenMP pool made a single-query flat search ~10x slower on the
shared 2-core machine (9.5 ms p50 at 10k vs 0.9 ms), so searches run with one
OpenMP thread.  The setting is per calling thread and shared with torch (same
OpenMP runtime: setting it globally halved the speed of embedding), so it is
set around each search and restored after.

Besides top-n search the index keeps the matrix, so the exact cosine of any
candidate (e.g. one BM25 found) is one small matrix-vector product; this is also
where a second per-tool vector set (usage evidence) is max-combined, see
:meth:`VectorIndex.scores`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

APPROX_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512

IndexKind = Literal["auto", "flat", "hnsw"]


def _faiss() -> Any:
    import faiss

    return faiss


@contextmanager
def _one_omp_thread(faiss: Any) -> Iterator[None]:
    """Run a single-query FAISS search on one OpenMP thread, then restore this thread's setting."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class VectorIndex:
    """An immutable inner-product index; build a new one to change the vectors."""

    def __init__(
        self,
        vectors: npt.NDArray[np.floating],
        *,
        kind: IndexKind = "auto",
        threshold: int = APPROX_THRESHOLD,
        extra: npt.NDArray[np.floating] | None = None,
    ) -> None:
        """``vectors``: ``(n, dim)`` unit rows.  ``extra``: an optional second vector per
        row (e.g. usage evidence; a NaN row means "none"); a row's similarity is then
        ``max(cos(q, vectors[i]), cos(q, extra[i]))``.
        """
        faiss = self._faiss = _faiss()
        mat = np.ascontiguousarray(vectors, dtype=np.float32)
        if mat.ndim != 2:
            raise ValueError(f"vectors must be 2-D, got shape {mat.shape}")
        self.matrix: Vectors = mat
        self.size, self.dim = mat.shape
        self.extra: Vectors | None = None
        self._has_extra: npt.NDArray[np.bool_] | None = None
        if extra is not None:
            ex = np.asarray(extra, dtype=np.float32)
            if ex.shape != mat.shape:
                raise ValueError(f"extra vectors must have shape {mat.shape}, got {ex.shape}")
            self._has_extra = np.asarray(~np.isnan(ex).any(axis=1), dtype=np.bool_)
            self.extra = np.ascontiguousarray(np.nan_to_num(ex, nan=0.0))
        if kind == "auto":
            kind = "hnsw" if self.size > threshold else "flat"
        self.kind: Literal["flat", "hnsw"] = kind
        index: Any
        if kind == "flat":
            index = faiss.IndexFlatIP(self.dim)
        else:
            index = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = HNSW_EF_SEARCH
        if self.size:
            index.add(mat)
        self._index = index

    def search(self, query: npt.NDArray[np.floating], n: int) -> tuple[IntArray, Vectors]:
        """The ``n`` nearest rows by inner product (best first), as (row ids, similarities)."""
        n = min(n, self.size)
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        with _one_omp_thread(self._faiss):
            sims, ids = self._index.search(q, n)
        keep = ids[0] >= 0
        found = ids[0][keep].astype(np.int64)
        if self.extra is None:
            return found, sims[0][keep].astype(np.float32)
        # usage evidence can lift rows the description index did not return
        assert self._has_extra is not None
        extra_sims = np.where(self._has_extra, self.extra @ q[0], -np.inf)
        extra_top = np.argsort(-extra_sims)[:n]
        extra_top = extra_top[self._has_extra[extra_top]]
        cand = np.unique(np.concatenate([found, extra_top.astype(np.int64)]))
        cand_sims = self.scores(q[0], cand)
        order = np.argsort(-cand_sims, kind="stable")[:n]
        return cand[order], cand_sims[order]

    def scores(self, query: npt.NDArray[np.floating], ids: IntArray | None = None) -> Vectors:
        """Exact similarity of the query to the given rows (all rows if ``ids`` is None).

        With ``extra`` vectors: ``max(description similarity, extra similarity)`` — usage
        evidence can raise a tool's dense score but never erase its description evidence.
        """
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        sims = self._dot(self.matrix, q) if ids is None else self.matrix[ids] @ q
        if self.extra is not None and self._has_extra is not None:
            extra_sims = self._dot(self.extra, q) if ids is None else self.extra[ids] @ q
            has = self._has_extra if ids is None else self._has_extra[ids]
            sims = np.where(has, np.maximum(sims, extra_sims), sims).astype(np.float32)
        return sims

    def dot(self, mat: npt.NDArray[np.floating], query: npt.NDArray[np.floating]) -> Vectors:
        """``mat @ query`` for other rows of this dimension (a trained version's use vectors),
        with the same single-threaded kernel as :meth:`scores`."""
        m = np.ascontiguousarray(mat, dtype=np.float32)
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if m.ndim != 2 or m.shape[1] != self.dim or q.shape[0] != self.dim:
            raise ValueError(f"dot needs rows and a query of dimension {self.dim}")
        return self._dot(m, q)

    def _dot(self, mat: Vectors, q: Vectors) -> Vectors:
        """``mat @ q`` with FAISS's single-threaded SIMD kernel.

        numpy's BLAS runs a 10,000 x 384 product on its own thread pool, which fights
        torch's OpenMP threads (query encoding) for the two cores: measured 0.2 ms
        alone but 3.6 ms right after an encode, and the next encode 29 ms instead of
        12 ms.  This kernel takes ~0.9 ms and leaves the cores alone.
        """
        out = np.empty(len(mat), dtype=np.float32)
        if len(mat):
            f = self._faiss
            f.fvec_inner_products_ny(f.swig_ptr(out), f.swig_ptr(q), f.swig_ptr(mat), self.dim, len(mat))
        return out

    @property
    def nbytes(self) -> int:
        """Approximate memory held (the matrix plus FAISS's copy and graph)."""
        base = self.matrix.nbytes * 2
        if self.extra is not None:
            base += self.extra.nbytes
        if self.kind == "hnsw":
            base += self.size * HNSW_M * 2 * 4
        return base
