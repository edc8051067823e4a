"""FAISS vector index: exact flat search, HNSW past the threshold, max-combined extra vectors."""

from __future__ import annotations

import numpy as np
import pytest

from ucp.router.embedder import l2_normalise
from ucp.router.vector_index import VectorIndex


def _unit(n: int, dim: int, seed: int) -> np.ndarray:
    return l2_normalise(np.random.default_rng(seed).normal(size=(n, dim)))


def test_flat_search_is_exact() -> None:
    vecs = _unit(300, 16, 0)
    q = _unit(1, 16, 1)[0]
    index = VectorIndex(vecs)
    assert index.kind == "flat"
    ids, sims = index.search(q, 10)
    expected = np.argsort(-(vecs @ q))[:10]
    assert ids.tolist() == expected.tolist()
    np.testing.assert_allclose(sims, (vecs @ q)[expected], rtol=1e-5)


def test_scores_are_exact_cosines_for_any_rows() -> None:
    vecs = _unit(50, 8, 2)
    q = _unit(1, 8, 3)[0]
    index = VectorIndex(vecs)
    np.testing.assert_allclose(index.scores(q), vecs @ q, rtol=1e-5)
    np.testing.assert_allclose(index.scores(q, np.array([4, 7])), (vecs @ q)[[4, 7]], rtol=1e-5)


def test_hnsw_past_the_threshold_has_high_recall() -> None:
    vecs = _unit(3000, 32, 4)
    index = VectorIndex(vecs, threshold=1000)
    assert index.kind == "hnsw"
    queries = _unit(50, 32, 5)
    hits = 0
    for q in queries:
        ids, _ = index.search(q, 10)
        hits += len(set(ids.tolist()) & set(np.argsort(-(vecs @ q))[:10].tolist()))
    assert hits / (10 * len(queries)) > 0.9


def test_extra_vectors_are_max_combined_and_nan_rows_ignored() -> None:
    vecs = l2_normalise(np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    extra = np.array([[np.nan, np.nan], [1.0, 0.0], [np.nan, np.nan]], dtype=np.float32)
    index = VectorIndex(vecs, extra=extra)
    q = np.array([1.0, 0.0], dtype=np.float32)
    # row 1's own vector is orthogonal, its usage vector matches; row 2 keeps its negative score
    np.testing.assert_allclose(index.scores(q), [1.0, 1.0, -1.0], atol=1e-6)
    ids, _ = index.search(q, 2)
    assert set(ids.tolist()) == {0, 1}
    with pytest.raises(ValueError):
        VectorIndex(vecs, extra=np.zeros((2, 2)))


def test_empty_index_and_bad_shapes() -> None:
    index = VectorIndex(np.zeros((0, 4), dtype=np.float32))
    ids, sims = index.search(np.ones(4, dtype=np.float32), 5)
    assert ids.size == 0 and sims.size == 0
    with pytest.raises(ValueError):
        VectorIndex(np.zeros(4, dtype=np.float32))


def test_search_restores_the_openmp_thread_setting() -> None:
    import faiss

    before = faiss.omp_get_max_threads()
    index = VectorIndex(_unit(100, 8, 6))
    index.search(_unit(1, 8, 7)[0], 5)
    VectorIndex(_unit(100, 8, 6), kind="hnsw").search(_unit(1, 8, 7)[0], 5)
    assert faiss.omp_get_max_threads() == before
