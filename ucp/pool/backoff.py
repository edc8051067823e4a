"""Restart delays: exponential backoff with jitter (pure; the RNG is injected)."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, *, initial: float, maximum: float, rng: random.Random | None = None) -> float:
    """Delay before restart number ``attempt`` (0-based).

    "Equal jitter": half of the exponential step is fixed, half is random, so
    restarts of many servers spread out but never collapse to zero delay.
    ``initial * 2**attempt`` is capped at ``maximum``.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    step = min(maximum, initial * (2 ** min(attempt, 30)))
    r = float((rng or random.Random()).random())
    return float(step / 2 + r * step / 2)
