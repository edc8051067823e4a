"""Anomaly detectors (pure): seasonal-hybrid ESD and a rolling robust z-score.

Seasonal-hybrid ESD follows Twitter's AnomalyDetection: remove the seasonal component
and the median, then run the generalised ESD test with the median and MAD in place of
the mean and standard deviation, allowing at most ``max_anoms`` of the points. The
seasonal component is the per-phase median of the series minus a centred one-period
rolling median (a robust periodic decomposition, like STL with a periodic window).
The rolling robust z-score compares each point with the median and MAD of the window
before it (modified z-score, 1.4826 x MAD).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MAD_K = 1.4826
MAD_FLOOR_SHARE = 0.1  # window MAD floored at 10% of the series' MAD


@dataclass(frozen=True)
class Detection:
    index: np.ndarray  # positions flagged
    score: np.ndarray  # score per flagged position
    expected: np.ndarray  # baseline value per flagged position


def mad(x: np.ndarray) -> float:
    return float(MAD_K * np.median(np.abs(x - np.median(x))))


def seasonal_component(v: np.ndarray, phase: np.ndarray, period: int) -> np.ndarray:
    """Per-phase median of v minus its centred rolling median over one period."""
    import pandas as pd  # lazy: keeps `import ucp.builtins.cloud` fast (cold start)

    trend = pd.Series(v).rolling(period, center=True, min_periods=1).median().to_numpy()
    detr = v - trend
    med = np.zeros(period)
    for p in range(period):
        sel = detr[phase == p]
        med[p] = float(np.median(sel)) if sel.size else 0.0
    med -= np.median(med)
    out: np.ndarray = med[phase]
    return out


def esd_critical(n: int, i: int, alpha: float) -> float:
    """Rosner's lambda_i for the i-th (1-based) test on n points, two-sided."""
    return float(esd_criticals(n, np.asarray([i]), alpha)[0])


def esd_criticals(n: int, i: np.ndarray, alpha: float) -> np.ndarray:
    """Rosner's lambda_i for many tests at once (one vectorised t quantile call)."""
    from scipy.stats import t as student_t  # lazy, see above

    i = i.astype(np.float64)
    p = 1 - alpha / (2 * (n - i + 1))
    tq = student_t.ppf(p, n - i - 1)
    out: np.ndarray = tq * (n - i) / np.sqrt((n - i - 1 + tq**2) * (n - i + 1))
    return out


def _kth_of_two(s: np.ndarray, lo: int, cut: int, hi: int, med: float, k: int) -> float:
    """The k-th smallest (0-based) of |s[j] - med| over the sorted slice ``s[lo:hi]``, in O(log n).

    Below ``cut`` the deviations ascend from ``cut - 1`` down to ``lo`` (sequence a), from
    ``cut`` they ascend up to ``hi - 1`` (sequence b); no array is materialised."""
    na, nb = cut - lo, hi - cut

    def a(t: int) -> float:
        return med - float(s[cut - 1 - t])

    def b(t: int) -> float:
        return float(s[cut + t]) - med

    left, right = max(0, k + 1 - nb), min(k + 1, na)  # how many of a are among the k+1 smallest
    while left < right:
        ta = (left + right) // 2
        tb = k + 1 - ta
        if tb > 0 and b(tb - 1) > a(ta):
            left = ta + 1
        else:
            right = ta
    ta, tb = left, k + 1 - left
    return max(a(ta - 1) if ta > 0 else -np.inf, b(tb - 1) if tb > 0 else -np.inf)


@dataclass(frozen=True)
class _Range:
    """Robust statistics of the contiguous slice ``[lo, hi)`` of a sorted array, each in O(log n).

    The generalised ESD removes the point farthest from the median, which is always the
    smallest or the largest one left: the points left are always a contiguous slice of the
    sorted residuals. So the median is O(1), the MAD a k-th element of two sorted sequences
    (O(log n)) and the mean absolute deviation a difference of prefix sums: the whole test
    is O(n log n) instead of the textbook O(n x k), which was quadratic at 10% anomalies.
    """

    s: np.ndarray
    csum: np.ndarray  # csum[j] = sum(s[:j])

    def median(self, lo: int, hi: int) -> float:
        m = hi - lo
        mid = lo + m // 2
        return float(self.s[mid]) if m % 2 else 0.5 * float(self.s[mid - 1] + self.s[mid])

    def mad(self, lo: int, hi: int, med: float) -> float:
        """MAD_K x median(|x - med|) over the slice, as ``mad`` would compute it."""
        cut = min(max(int(np.searchsorted(self.s, med)), lo), hi)
        m = hi - lo
        if m % 2:
            val = _kth_of_two(self.s, lo, cut, hi, med, m // 2)
        else:
            val = 0.5 * (
                _kth_of_two(self.s, lo, cut, hi, med, m // 2 - 1)
                + _kth_of_two(self.s, lo, cut, hi, med, m // 2)
            )
        return MAD_K * val

    def mean_abs_dev(self, lo: int, hi: int, med: float) -> float:
        cut = min(max(int(np.searchsorted(self.s, med)), lo), hi)
        below = med * (cut - lo) - float(self.csum[cut] - self.csum[lo])
        above = float(self.csum[hi] - self.csum[cut]) - med * (hi - cut)
        return (below + above) / max(1, hi - lo)


MEAN_AD_K = 1.2533  # sqrt(pi/2): mean absolute deviation to sigma for a normal distribution


def hybrid_esd(
    resid: np.ndarray, max_anoms: float, alpha: float, direction: str = "both", notes: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised ESD on median/MAD. Returns (indices, R statistics) of the anomalies.

    The MAD is floored at ``MEAN_AD_K`` x the mean absolute deviation: when more than half the
    residuals are identical (a flat or low-volume series) the MAD is 0 and the textbook test
    stops without flagging anything, silently, even next to an obvious spike. A note is added
    to ``notes`` when the floor was needed, and when the residuals are all identical.
    """
    n = resid.size
    k = int(np.floor(max_anoms * n))
    k = min(k, max(0, n - 2))
    if k == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    work = resid.astype(np.float64)
    order = np.argsort(work, kind="stable")
    rng = _Range(work[order], np.concatenate(([0.0], np.cumsum(work[order]))))
    crit = esd_criticals(n, np.arange(1, k + 1), alpha)
    lo, hi = 0, n
    removed: list[int] = []
    stats: list[float] = []
    n_anoms = 0
    floored = False
    for i in range(1, k + 1):
        med = rng.median(lo, hi)
        sigma = rng.mad(lo, hi, med)
        if sigma <= 0:
            sigma = MEAN_AD_K * rng.mean_abs_dev(lo, hi, med)
            floored = True
        if sigma <= 0:
            if i == 1 and notes is not None:
                notes.append("degenerate: all residuals are identical; nothing to test.")
            break
        d_lo, d_hi = med - float(rng.s[lo]), float(rng.s[hi - 1]) - med
        if direction == "pos" or (direction == "both" and d_hi >= d_lo):
            j, r = hi - 1, d_hi / sigma
            hi -= 1
        else:
            j, r = lo, d_lo / sigma
            lo += 1
        removed.append(int(order[j]))
        stats.append(float(r))
        if r > crit[i - 1]:
            n_anoms = i
    if floored and notes is not None:
        notes.append(
            "degenerate: more than half of the residuals are identical (a flat or low-volume series); "
            f"the spread was floored at {MEAN_AD_K} x the mean absolute deviation."
        )
    return np.asarray(removed[:n_anoms], dtype=np.int64), np.asarray(stats[:n_anoms])


def shesd(
    v: np.ndarray,
    phase: np.ndarray | None,
    period: int,
    max_anoms: float,
    alpha: float,
    direction: str,
    notes: list[str] | None = None,
) -> Detection:
    seasonal = seasonal_component(v, phase, period) if phase is not None else np.zeros_like(v)
    base = seasonal + float(np.median(v))
    pos, stat = hybrid_esd(v - base, max_anoms, alpha, direction, notes)
    order = np.argsort(pos)
    return Detection(pos[order], stat[order], base[pos[order]])


def rolling_robust_z(
    v: np.ndarray, window: int, threshold: float, direction: str
) -> tuple[Detection, np.ndarray]:
    """Modified z-score of each point against the ``window`` points before it.

    Returns the detection and the full score array (0 for the first ``window`` points)."""
    n = v.size
    scores = np.zeros(n)
    expected = v.copy()
    floor = max(MAD_FLOOR_SHARE * mad(v), 1e-9)
    if n > window:
        chunk = max(1, 2_000_000 // window)
        for a in range(0, n - window, chunk):
            b = min(n - window, a + chunk)
            win = sliding_window_view(v[a : b + window - 1], window)
            med = np.median(win, axis=1)
            spread = np.maximum(MAD_K * np.median(np.abs(win - med[:, None]), axis=1), floor)
            cur = v[a + window : b + window]
            scores[a + window : b + window] = (cur - med) / spread
            expected[a + window : b + window] = med
    signed = scores if direction != "neg" else -scores
    mag = np.abs(scores) if direction == "both" else signed
    hit = np.flatnonzero(mag > threshold)
    return Detection(hit, np.abs(scores[hit]), expected[hit]), scores


def group_windows(index: np.ndarray, max_gap: int) -> list[tuple[int, int]]:
    """Group sorted positions into (first, last) runs whose gaps are at most ``max_gap``."""
    if index.size == 0:
        return []
    out: list[tuple[int, int]] = []
    start = prev = int(index[0])
    for i in index[1:]:
        i = int(i)
        if i - prev > max_gap:
            out.append((start, prev))
            start = i
        prev = i
    out.append((start, prev))
    return out
