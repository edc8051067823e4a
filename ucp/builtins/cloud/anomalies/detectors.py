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
    p = 1 - alpha / (2 * (n - i + 1))
    from scipy.stats import t as student_t  # lazy, see above

    tq = float(student_t.ppf(p, n - i - 1))
    return tq * (n - i) / float(np.sqrt((n - i - 1 + tq**2) * (n - i + 1)))


def hybrid_esd(
    resid: np.ndarray, max_anoms: float, alpha: float, direction: str = "both"
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised ESD on median/MAD. Returns (indices, R statistics) of the anomalies."""
    n = resid.size
    k = int(np.floor(max_anoms * n))
    idx = np.arange(n)
    work = resid.astype(np.float64).copy()
    removed: list[int] = []
    stats: list[float] = []
    n_anoms = 0
    for i in range(1, k + 1):
        if n - i - 1 < 1:
            break
        med = float(np.median(work))
        sigma = mad(work)
        if sigma == 0:
            break
        dev = work - med if direction == "pos" else med - work if direction == "neg" else np.abs(work - med)
        j = int(np.argmax(dev))
        r = float(dev[j] / sigma)
        removed.append(int(idx[j]))
        stats.append(r)
        if r > esd_critical(n, i, alpha):
            n_anoms = i
        work = np.delete(work, j)
        idx = np.delete(idx, j)
    return np.asarray(removed[:n_anoms], dtype=np.int64), np.asarray(stats[:n_anoms])


def shesd(
    v: np.ndarray, phase: np.ndarray | None, period: int, max_anoms: float, alpha: float, direction: str
) -> Detection:
    seasonal = seasonal_component(v, phase, period) if phase is not None else np.zeros_like(v)
    base = seasonal + float(np.median(v))
    pos, stat = hybrid_esd(v - base, max_anoms, alpha, direction)
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
