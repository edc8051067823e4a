"""Fusion: z-score and max-normalised convex combinations, RRF baseline, the tuning split rule."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucp.router.fusion import (
    DENSE_WEIGHT,
    FLOOR,
    FusionParams,
    fuse,
    fused_z,
    is_tuning_query,
    max_normalise,
    reciprocal_rank_fusion,
    select_top,
    z_normalise,
)

MAXNORM = FusionParams(dense_weight=0.7, method="maxnorm")


def test_max_normalise_scales_the_best_to_one() -> None:
    np.testing.assert_allclose(max_normalise([2.0, 1.0, 0.0]), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(max_normalise([0.0, 0.0]), [0.0, 0.0])
    np.testing.assert_allclose(max_normalise([-1.0, -2.0]), [0.0, 0.0])
    assert max_normalise([]).shape == (0,)


def test_zscore_fusion_is_the_documented_combination_scaled_into_floor_one() -> None:
    bm25 = np.array([4.0, 2.0, 0.0, 0.0])
    dense = np.array([0.2, 0.4, 0.8, 0.1])
    fused, bn, dn = fuse(bm25, dense, FusionParams(dense_weight=0.7))
    assert dn is not None
    np.testing.assert_allclose(bn, (bm25 - bm25.mean()) / bm25.std())
    np.testing.assert_allclose(dn, (dense - dense.mean()) / dense.std())
    z = 0.7 * dn + 0.3 * bn
    np.testing.assert_allclose(fused_z(bm25, dense), z)
    np.testing.assert_allclose(fused, FLOOR + (1 - FLOOR) * (z - z.min()) / (z.max() - z.min()))
    assert fused.max() == pytest.approx(1.0) and fused.min() == pytest.approx(FLOOR)
    assert np.argsort(-fused).tolist() == np.argsort(-z).tolist()


def test_zscore_is_invariant_to_scale_and_shift_of_a_retriever() -> None:
    """What makes it transfer: a catalog whose cosines sit in a narrow band ranks as a spread one."""
    bm25 = np.array([3.0, 0.0, 1.0, 0.5])
    dense = np.array([0.30, 0.35, 0.31, 0.33])
    a, _, _ = fuse(bm25, dense)
    b, _, _ = fuse(bm25 * 7, dense * 10 - 2)
    np.testing.assert_allclose(a, b)


def test_zscore_without_variation_falls_back_to_maxnorm() -> None:
    fused, _, _ = fuse([2.0], [0.5])
    np.testing.assert_allclose(fused, [1.0])
    np.testing.assert_allclose(z_normalise([1.0, 1.0]), [0.0, 0.0])
    with pytest.raises(ValueError):
        FusionParams(method="rrf")  # type: ignore[arg-type]


def test_fuse_is_the_documented_convex_combination() -> None:
    bm25 = np.array([4.0, 2.0, 0.0])
    dense = np.array([0.2, 0.4, 0.8])
    fused, bn, dn = fuse(bm25, dense, MAXNORM)
    assert dn is not None
    np.testing.assert_allclose(bn, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(dn, [0.25, 0.5, 1.0])
    np.testing.assert_allclose(fused, [0.7 * 0.25 + 0.3, 0.7 * 0.5 + 0.15, 0.7])


def test_weight_extremes_reduce_to_one_retriever() -> None:
    bm25 = np.array([3.0, 1.0, 2.0])
    dense = np.array([0.1, 0.9, 0.5])
    for method in ("zscore", "maxnorm"):
        only_dense, _, _ = fuse(bm25, dense, FusionParams(dense_weight=1.0, method=method))
        only_bm25, _, _ = fuse(bm25, dense, FusionParams(dense_weight=0.0, method=method))
        assert np.argsort(-only_dense).tolist() == [1, 2, 0]
        assert np.argsort(-only_bm25).tolist() == [0, 2, 1]


def test_without_dense_the_fused_score_is_normalised_bm25() -> None:
    fused, bn, dn = fuse([5.0, 10.0], None)
    assert dn is None
    np.testing.assert_allclose(fused, [0.5, 1.0])
    np.testing.assert_allclose(bn, fused)


def test_misaligned_inputs_and_bad_weight_are_rejected() -> None:
    with pytest.raises(ValueError):
        fuse([1.0, 2.0], [0.5])
    with pytest.raises(ValueError):
        FusionParams(dense_weight=1.5)


def test_shipped_weight_leans_dense() -> None:
    assert 0.5 < DENSE_WEIGHT < 1.0


scores = st.lists(st.floats(0, 10, allow_nan=False), min_size=3, max_size=30)


@settings(max_examples=80, deadline=None)
@given(scores, st.data())
def test_fusing_a_candidate_set_ranks_candidates_as_fusing_everything(
    bm: list[float], data: st.DataObject
) -> None:
    """Max-normalisation depends only on each list's best score, so any candidate set that
    holds the top item of both retrievers ranks its members exactly as full scoring does."""
    n = len(bm)
    dn = data.draw(st.lists(st.floats(0.01, 1, allow_nan=False), min_size=n, max_size=n))
    b, d = np.array(bm), np.array(dn)
    full, _, _ = fuse(b, d, MAXNORM)
    extra = data.draw(st.sets(st.integers(0, n - 1)))
    cand = np.array(sorted({int(np.argmax(b)), int(np.argmax(d))} | extra))
    part, _, _ = fuse(b[cand], d[cand], MAXNORM)
    np.testing.assert_allclose(part, full[cand])


def test_rrf_matches_hand_computed_values() -> None:
    fused = reciprocal_rank_fusion([np.array([2, 0]), np.array([0, 1, 2])], 4, k=10.0)
    np.testing.assert_allclose(fused, [1 / 12 + 1 / 11, 1 / 12, 1 / 11 + 1 / 13, 0.0])
    weighted = reciprocal_rank_fusion([np.array([0]), np.array([1])], 2, k=0.0, weights=[1.0, 3.0])
    np.testing.assert_allclose(weighted, [1.0, 3.0])
    with pytest.raises(ValueError):
        reciprocal_rank_fusion([np.array([0])], 1, weights=[1.0, 2.0])


def test_tuning_split_rule() -> None:
    assert is_tuning_query("1", "train") and not is_tuning_query("1", "test")
    qids = [f"s{i}" for i in range(2000)]
    share = sum(is_tuning_query(q) for q in qids) / len(qids)
    assert 0.27 < share < 0.33
    q = "s17"
    assert is_tuning_query(q) == (int(hashlib.sha1(q.encode()).hexdigest(), 16) % 10 < 3)


def test_select_top_skips_filtered_and_non_positive_scores() -> None:
    total = np.array([0.5, 0.9, 0.0, 0.7, -0.1, 0.8, 0.6, 0.3, 0.2, 0.1])
    keys = [f"t{i}" for i in range(len(total))]
    assert select_top(total, 3, keys.__getitem__) == [1, 5, 3]
    assert select_top(total, 20, keys.__getitem__) == [1, 5, 3, 6, 0, 7, 8, 9]  # never 0.0 or negative
    # the filter removes the best 4*k, so the full ranking is consulted
    banned = {"t1", "t5", "t3", "t6"}
    assert select_top(total, 1, keys.__getitem__, lambda k: k not in banned) == [0]
    assert select_top(total, 2, keys.__getitem__, lambda k: False) == []
