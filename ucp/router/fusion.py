"""Fusion of BM25 and dense scores (pure functions, no I/O).

The shipped fusion (since 2026-12-01) is a convex combination of *z-scores over the
catalog*::

    z = w * (dense - mean(dense)) / sd(dense) + (1 - w) * (bm25 - mean(bm25)) / sd(bm25),  w = 0.70

i.e. how many standard deviations each retriever puts a tool above the catalog's
average for this query (a component with sd 0 contributes 0).  ``z`` is comparable
across queries and catalogs (it is what :mod:`ucp.router.calibration` turns into a
probability); the ranking score is ``z`` min-max scaled into [FLOOR, 1] (top tool 1)
so the priors added by the caller keep their meaning on the same [0, 1] scale.

Why z-scores: chosen *cross-dataset* (``ucp bench retrieval --cross``: the weight
tuned on one dev set, figures on the other).  The max-normalised fusion below won
in-sample but lost to the better single retriever on nDCG@10 in both directions once
its weight was tuned on the other set (dense cosines sit in a narrow band near the
top, so dividing by the max compresses them and the right weight depends on the
catalog); the z-score fusion won in both directions, and its band of weights that
beat both single retrievers on both sets is the widest (0.65-0.85).
``RETRIEVAL.md`` has the tables.  With an approximate vector index the statistics are
those of the candidate set (top-N of each retriever), a documented approximation.

The previous fusion, ``method="maxnorm"``::

    fused = w * dense / max(dense) + (1 - w) * bm25 / max(bm25),   w = 0.70

(a max of zero or less leaves that component at 0).  Dividing by the best score
of the query keeps each component in [0, 1] with the top tool at 1, so the weight
means the same for every query and catalog size, and it depends only on the top
of each list — fusing over all tools or over a candidate set (top-N of each
retriever) gives the same ranking of the top candidates.  Priors are added on
top by the caller (:mod:`ucp.router.hybrid`), on the same [0, 1] scale.

How it was tuned (2026-11-23, ``RETRIEVAL.md`` has the tables).  Dev data only:
toollens ``queries_all_splits.jsonl`` split "train" (16,893 queries) and a fixed
30% slice of metatool (6,375 queries: ``int(sha1(qid), 16) % 10 < 3``).  Held
out: toollens "test" (= ``queries.jsonl``, 1,877) and the other 70% of metatool.
Candidates compared on dev (BM25 = tuned BM25 of this package, dense = MiniLM):

====================================  =======================  =======================
method (dev)                          metatool R@10 / nDCG@10  toollens R@10 / nDCG@10
====================================  =======================  =======================
BM25                                  0.690 / 0.561            0.429 / 0.382
dense                                 0.832 / 0.686            0.398 / 0.316
RRF k=60                              0.752 / 0.639            0.463 / 0.389
RRF k=10                              0.825 / 0.670            0.480 / 0.402
weighted RRF k=10, w_dense=0.7        0.844 / 0.698            0.451 / 0.368
z-score convex, w=0.7                 0.848 / 0.706            0.480 / 0.417
min-max convex, w=0.7                 0.848 / 0.707            0.477 / 0.412
max-norm convex, w=0.62               0.847 / 0.703            0.479 / 0.416
**max-norm convex, w=0.70**           0.851 / 0.712            0.471 / 0.405
adaptive w by BM25 margin 0.75→0.45   0.849 / 0.712            0.472 / 0.409
====================================  =======================  =======================

Plain RRF loses to dense on metatool, as the reference figures warned; every
score-based convex fusion beats the better single retriever on both sets.
Max-norm was preferred to z-score/min-max (equal within 0.005) because it does
not depend on which candidates were scored.  The weight was chosen on a 0.01
grid over [0.55, 0.75] by the worst relative gain over the better single
retriever across {metatool, toollens} x {R@10, nDCG@10} (maximin: the hybrid
must win everywhere): w = 0.70, worst gain +2.2% (metatool R@10), mean +5.5%;
the mean-gain optimum (w = 0.62, +6.2% mean) has a worst gain of +1.7%.
Adaptive weights (by BM25 or dense margin) did not beat a fixed weight.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ucp.router.bm25 import top_indices

FloatArray = npt.NDArray[np.float64]

DENSE_WEIGHT = 0.70
FLOOR = 0.01  # the lowest hybrid score: every tool stays rankable (priors can still lift it)
Method = Literal["zscore", "maxnorm"]


@dataclass(frozen=True)
class FusionParams:
    """``dense_weight``: the share of the dense component; ``method``: z-scores or max-normalised."""

    dense_weight: float = DENSE_WEIGHT
    method: Method = "zscore"

    def __post_init__(self) -> None:
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be in [0, 1], got {self.dense_weight}")
        if self.method not in ("zscore", "maxnorm"):
            raise ValueError(f"fusion method must be 'zscore' or 'maxnorm', got {self.method!r}")


DEFAULT_FUSION = FusionParams()


def is_tuning_query(qid: str, split: str = "") -> bool:
    """Whether a dev-set query was used for tuning (the rest is held out for reporting).

    A query with a ``split`` was used iff its split is "train"; a query without one
    (metatool) iff ``int(sha1(qid), 16) % 10 < 3`` (a fixed 30% slice).
    """
    if split:
        return split == "train"
    return int(hashlib.sha1(qid.encode("utf-8")).hexdigest(), 16) % 10 < 3


def max_normalise(scores: npt.ArrayLike) -> FloatArray:
    """``scores / max(scores)``; all zeros when the maximum is not positive."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s.copy()
    top = float(s.max())
    if top <= 0.0:
        return np.zeros_like(s)
    out: FloatArray = s / top
    return out


def z_normalise(scores: npt.ArrayLike) -> FloatArray:
    """``(scores - mean) / sd``; all zeros when the scores do not vary."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return s.copy()
    sd = float(s.std())
    if not sd > 1e-12:
        return np.zeros_like(s)
    out: FloatArray = (s - float(s.mean())) / sd
    return out


def fuse(
    bm25: npt.ArrayLike, dense: npt.ArrayLike | None, params: FusionParams = DEFAULT_FUSION
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """Fused scores of aligned candidates: ``(fused, bm25_normalised, dense_normalised)``.

    ``dense`` None means the dense side is not available: the fused score is then
    the normalised BM25 score (same [0, 1] scale, so priors keep their meaning).
    With ``method="zscore"`` the normalised components are z-scores and ``fused`` is
    their convex combination min-max scaled into [FLOOR, 1] (:func:`fused_z` gives
    the unscaled, calibrated combination).
    """
    b = max_normalise(bm25)
    if dense is None:
        return b, b, None
    if np.shape(dense) != b.shape:
        raise ValueError(f"bm25 and dense scores are not aligned: {b.shape} vs {np.shape(dense)}")
    w = params.dense_weight
    if params.method == "zscore":
        bz, dz = z_normalise(bm25), z_normalise(dense)
        z = w * dz + (1.0 - w) * bz
        lo, hi = (float(z.min()), float(z.max())) if z.size else (0.0, 0.0)
        if hi - lo > 1e-12:
            scaled: FloatArray = FLOOR + (1.0 - FLOOR) * (z - lo) / (hi - lo)
            return scaled, bz, dz
        # nothing varies (one tool, or identical scores): fall back to the max-normalised fusion
    d = max_normalise(dense)
    fused: FloatArray = w * d + (1.0 - w) * b
    return fused, b, d


def fused_z(
    bm25: npt.ArrayLike, dense: npt.ArrayLike | None, params: FusionParams = DEFAULT_FUSION
) -> FloatArray:
    """The calibrated fusion ``w * z(dense) + (1 - w) * z(bm25)`` (BM25 alone: ``z(bm25)``)."""
    bz = z_normalise(bm25)
    if dense is None:
        return bz
    out: FloatArray = params.dense_weight * z_normalise(dense) + (1.0 - params.dense_weight) * bz
    return out


def select_top(
    total: npt.NDArray[np.floating],
    k: int,
    key_at: Callable[[int], str],
    allowed: Callable[[str], bool] | None = None,
) -> list[int]:
    """Positions of the ``k`` best strictly positive scores whose key passes ``allowed``, best first.

    Without a filter this is one partial sort; with one, the best ``4k`` are tried
    first and the full ranking only if too many were filtered out.
    """
    size = len(total)
    want = k if allowed is None else min(size, 4 * k)
    while True:
        out: list[int] = []
        for i in top_indices(total, want).tolist():
            if total[i] <= 0.0:
                return out
            if allowed is not None and not allowed(key_at(i)):
                continue
            out.append(i)
            if len(out) == k:
                return out
        if want >= size:
            return out
        want = size


def reciprocal_rank_fusion(
    rankings: list[npt.NDArray[np.integer]], n: int, *, k: float = 60.0, weights: list[float] | None = None
) -> FloatArray:
    """Weighted RRF over ``n`` items: ``sum_i w_i / (k + rank_i(item))`` (ranks from 1).

    Each ranking lists item indices best first; an item missing from a ranking
    gets nothing from it.  Kept as the baseline the benchmark compares against.
    """
    ws = weights or [1.0] * len(rankings)
    if len(ws) != len(rankings):
        raise ValueError("one weight per ranking")
    out = np.zeros(n, dtype=np.float64)
    for ranking, w in zip(rankings, ws, strict=True):
        r = np.asarray(ranking, dtype=np.int64)
        out[r] += w / (k + np.arange(1, len(r) + 1, dtype=np.float64))
    return out
