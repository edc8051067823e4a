"""A re-implementation of the Kubernetes VPA recommender's estimation (pure functions).

Constants are VPA's defaults (``pkg/recommender``): decaying exponential histograms
(half-life 24 h; CPU buckets from 0.01 core, memory buckets from 10 MB, each bucket
5% wider than the last); the percentile is read as the end of the bucket where the
cumulative weight reaches it. Target = p90, lower bound = p50, upper bound = p95,
each plus a 15% safety margin; the upper bound is multiplied by ``1 + 1/confidence``
and the lower bound by ``(1 + 0.001/confidence)^-2``, where confidence is the history
length in days; then minimums of 25 millicores and 250 MiB. Memory is aggregated as one
peak per 24-hour window; an OOM kill adds a sample of max(used + 100 MiB, used x 1.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

HALF_LIFE_S = 24 * 3600.0
BUCKET_RATIO = 1.05
CPU_FIRST_BUCKET = 0.01  # cores
CPU_MAX = 1000.0
MEM_FIRST_BUCKET = 1e7  # bytes
MEM_MAX = 1e12
TARGET_P, LOWER_P, UPPER_P = 0.90, 0.50, 0.95
SAFETY_MARGIN = 0.15
MIN_CPU_CORES = 0.025
MIN_MEMORY_BYTES = 250 * 1024 * 1024
OOM_BUMP_RATIO = 1.2
OOM_MIN_BUMP_BYTES = 100 * 1024 * 1024
MEMORY_WINDOW_S = 24 * 3600.0
HISTORY_DAYS = 8


@dataclass(frozen=True)
class ExpHistogram:
    """VPA's exponential bucketing: bucket b starts at first*(ratio^b - 1)/(ratio - 1)."""

    first: float
    max_value: float
    ratio: float = BUCKET_RATIO

    @property
    def num_buckets(self) -> int:
        return (
            math.ceil(math.log(self.max_value * (self.ratio - 1) / self.first + 1) / math.log(self.ratio)) + 1
        )

    def bucket_start(self, b: int | np.ndarray) -> np.ndarray:
        out: np.ndarray = np.asarray(
            self.first * (np.power(self.ratio, b) - 1) / (self.ratio - 1), dtype=np.float64
        )
        return out

    def find_bucket(self, values: np.ndarray) -> np.ndarray:
        v = np.maximum(values, 0.0)
        b = np.floor(np.log(v * (self.ratio - 1) / self.first + 1) / math.log(self.ratio)).astype(np.int64)
        b[v < self.first] = 0
        out: np.ndarray = np.clip(b, 0, self.num_buckets - 1)
        return out

    def percentile(self, values: np.ndarray, weights: np.ndarray, p: float) -> float:
        """VPA's ``Percentile``: the end of the first bucket whose cumulative weight >= p."""
        if values.size == 0 or float(weights.sum()) <= 0:
            return 0.0
        buckets = self.find_bucket(values)
        w = np.bincount(buckets, weights=weights, minlength=self.num_buckets)
        cum = np.cumsum(w)
        threshold = p * cum[-1]
        nonzero = np.flatnonzero(w > 0)
        lo, hi = int(nonzero[0]), int(nonzero[-1])
        idx = int(np.searchsorted(cum, threshold * (1 - 1e-12), side="left"))
        b = min(max(idx, lo), hi)
        if b < self.num_buckets - 1:
            return float(self.bucket_start(b + 1))
        return float(self.bucket_start(b))


CPU_HISTOGRAM = ExpHistogram(CPU_FIRST_BUCKET, CPU_MAX)
MEMORY_HISTOGRAM = ExpHistogram(MEM_FIRST_BUCKET, MEM_MAX)


def decay_weights(t: np.ndarray, reference: float) -> np.ndarray:
    """Weight 2^((t - reference)/half-life): a sample a day older counts half."""
    w: np.ndarray = np.power(2.0, (t - reference) / HALF_LIFE_S)
    return w


def memory_peaks(
    t: np.ndarray, v: np.ndarray, ooms: list[tuple[float, float]]
) -> tuple[np.ndarray, np.ndarray, int]:
    """One peak per 24 h window (windows start at the first sample; each peak is time-stamped
    at its window's end, as VPA does). ``ooms`` are (time, memory request bytes); each adds a
    sample of max(used + 100 MiB, used x 1.2) where used = max(request, the window's peak so far).
    Returns (peak_times, peaks, number of OOM bumps applied)."""
    events: list[tuple[float, int, float]] = [(float(a), 0, float(b)) for a, b in zip(t, v, strict=True)]
    events += [(a, 1, b) for a, b in ooms]
    events.sort(key=lambda e: (e[0], e[1]))
    window_end = -math.inf
    peak = 0.0
    times: list[float] = []
    peaks: list[float] = []
    bumps = 0
    for ts, kind, val in events:
        if kind == 1:
            if ts < window_end - MEMORY_WINDOW_S:
                continue  # too old: VPA discards it
            used = max(val, peak if ts < window_end else 0.0)
            val = max(used + OOM_MIN_BUMP_BYTES, used * OOM_BUMP_RATIO)
            bumps += 1
        if ts >= window_end:
            if window_end == -math.inf:
                window_end = ts
            shift = math.floor((ts - window_end) / MEMORY_WINDOW_S) * MEMORY_WINDOW_S + MEMORY_WINDOW_S
            window_end += shift
            times.append(window_end)
            peaks.append(val)
            peak = val
        elif val > peak:
            peaks[-1] = val
            peak = val
    return np.asarray(times), np.asarray(peaks), bumps


@dataclass(frozen=True)
class Bounds:
    lower: float
    target: float
    upper: float


def confidence_days(t: np.ndarray, step_s: float) -> float:
    """min(history length in days, covered time in days). VPA counts samples at one per
    minute; here each sample stands for its spacing, so coarse data is not penalised."""
    lifespan = float(t[-1] - t[0]) / 86400.0
    covered = t.size * min(step_s, 86400.0) / 86400.0
    return min(lifespan, covered)


def estimate(
    hist: ExpHistogram,
    values: np.ndarray,
    weights: np.ndarray,
    confidence: float,
    margin: float = SAFETY_MARGIN,
    minimum: float = 0.0,
) -> Bounds:
    """p50/p90/p95 + margin, confidence scaling of the bounds, then the minimum."""
    p50, p90, p95 = (hist.percentile(values, weights, p) * (1 + margin) for p in (LOWER_P, TARGET_P, UPPER_P))
    conf = max(confidence, 1e-9)
    upper = p95 * (1 + 1 / conf)
    lower = p50 * (1 + 0.001 / conf) ** -2
    return Bounds(lower=max(lower, minimum), target=max(p90, minimum), upper=max(upper, minimum))
