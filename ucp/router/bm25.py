"""BM25 retriever over tool documents (pure, in memory).

The scoring is exactly ``rank_bm25.BM25Okapi`` (same idf with the epsilon floor
for negative idf, same term-frequency saturation, repeated query tokens counted
once per occurrence) — ``tests/router/test_bm25.py`` checks it against
rank_bm25 — but evaluated "eagerly" the way bm25s does it: every (term, doc)
weight is computed once at build time into a sparse term x doc matrix, so a
query is one sparse row-sum.

Why not rank_bm25 or bm25s directly (measured on 10,000 tools, 300 dev queries,
2 shared cores, 2026-11-23; ``RETRIEVAL.md``): rank_bm25 scores a query with a
Python loop over every document, 30 ms p50 / 124 ms p99 per query (scores +
top 10) — over the routing budget on its own; bm25s is fast (0.13 ms p50) and
ranks the same top 10 on these queries, but implements a different BM25
(Robertson idf without the epsilon floor, tf part without the ``k1 + 1``
factor), so it cannot be checked score-for-score against rank_bm25.  This module:
0.10 ms p50 / 0.33 ms p99, build 0.17 s (plus 1.3 s to tokenise the 10,000
tools, cached per tool across rebuilds), scores equal to rank_bm25 to 1e-14.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_K1 = 1.5
DEFAULT_B = 0.75
DEFAULT_EPSILON = 0.25


@dataclass(frozen=True)
class BM25Params:
    """BM25Okapi parameters (the defaults are rank_bm25's).

    ``min_idf`` (not in rank_bm25; None = off) raises any idf below it to it.  Okapi's
    idf is negative for a term in more than half the documents and rank_bm25's
    floor (``epsilon * mean idf``) is itself negative in tiny catalogs (one or two
    tools), where a matching tool would then score below a non-matching one.  A
    small positive ``min_idf`` keeps "matches" positive there; in ordinary catalogs
    ``epsilon * mean idf`` is far above it and nothing changes.
    """

    k1: float = DEFAULT_K1
    b: float = DEFAULT_B
    epsilon: float = DEFAULT_EPSILON
    min_idf: float | None = None


class BM25Index:
    """An immutable BM25Okapi index over bags of tokens (one bag per document).

    Build a new index to change the corpus (idf depends on every document; the
    build is vectorised and takes well under a second for 10,000 tools).
    """

    def __init__(self, corpus: Sequence[Mapping[str, int] | Sequence[str]], params: BM25Params | None = None):
        self.params = params or BM25Params()
        counts = [c if isinstance(c, Mapping) else Counter(c) for c in corpus]
        self.n_docs = len(counts)
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        doc_len = np.zeros(self.n_docs, dtype=np.float64)
        for d, bag in enumerate(counts):
            total = 0
            for term, tf in bag.items():
                if tf <= 0:
                    continue
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(d)
                tfs.append(tf)
                total += tf
            doc_len[d] = total
        self.vocab = vocab
        self.doc_len = doc_len
        row_a = np.asarray(rows, dtype=np.int64)
        col_a = np.asarray(cols, dtype=np.int64)
        tf_a = np.asarray(tfs, dtype=np.float64)
        df = np.bincount(row_a, minlength=len(vocab)).astype(np.float64)
        self.idf = _okapi_idf(df, self.n_docs, self.params.epsilon)
        if self.params.min_idf is not None:
            self.idf = np.maximum(self.idf, self.params.min_idf)
        p = self.params
        avgdl = float(doc_len.sum()) / self.n_docs if self.n_docs else 0.0
        self.avgdl = avgdl
        if len(tf_a):
            norm = p.k1 * (1.0 - p.b + p.b * doc_len[col_a] / avgdl) if avgdl > 0 else p.k1 * (1.0 - p.b)
            weight = self.idf[row_a] * (tf_a * (p.k1 + 1.0) / (tf_a + norm))
        else:
            weight = np.zeros(0, dtype=np.float64)
        self._matrix = sparse.csr_matrix(
            (weight, (row_a, col_a)), shape=(len(vocab), self.n_docs), dtype=np.float64
        )

    def scores(self, query_tokens: Iterable[str]) -> FloatArray:
        """BM25 score of every document for a tokenised query (shape ``(n_docs,)``)."""
        counts: Counter[str] = Counter(t for t in query_tokens if t in self.vocab)
        out = np.zeros(self.n_docs, dtype=np.float64)
        m = self._matrix
        for term, count in counts.items():
            row = self.vocab[term]
            start, end = m.indptr[row], m.indptr[row + 1]
            out[m.indices[start:end]] += count * m.data[start:end]  # column ids are unique within a row
        return out

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the index (matrix, idf, lengths; not the vocabulary dict)."""
        m = self._matrix
        return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes + self.idf.nbytes + self.doc_len.nbytes)

    def top(self, query_tokens: Iterable[str], n: int) -> tuple[IntArray, FloatArray]:
        """Indices and scores of the ``n`` best documents (score > 0 only), best first."""
        s = self.scores(query_tokens)
        idx = top_indices(s, n)
        idx = idx[s[idx] > 0]
        return idx, s[idx]


def _okapi_idf(df: FloatArray, n_docs: int, epsilon: float) -> FloatArray:
    """rank_bm25's BM25Okapi idf: negative idf values are replaced by ``epsilon * mean(idf)``."""
    if len(df) == 0:
        return np.zeros(0, dtype=np.float64)
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    average = float(math.fsum(idf.tolist())) / len(idf)
    idf[idf < 0] = epsilon * average
    return idf


def top_indices(scores: npt.NDArray[np.floating], n: int) -> IntArray:
    """Indices of the ``n`` largest scores, best first (ties broken by lower index)."""
    size = len(scores)
    if n <= 0 or size == 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n] if n < size else np.arange(size)
    order = np.lexsort((part, -scores[part]))
    return part[order].astype(np.int64)
