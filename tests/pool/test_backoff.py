from __future__ import annotations

import random

import pytest

from ucp.pool.backoff import backoff_delay


def test_grows_exponentially_and_is_capped() -> None:
    rng = random.Random(1)
    highs = [backoff_delay(a, initial=0.5, maximum=8, rng=rng) for a in range(10)]
    for attempt, delay in enumerate(highs):
        step = min(8, 0.5 * 2**attempt)
        assert step / 2 <= delay <= step
    assert max(highs) <= 8


def test_jitter_is_seeded_and_spread() -> None:
    a = [backoff_delay(3, initial=1, maximum=100, rng=random.Random(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    spread = {round(backoff_delay(3, initial=1, maximum=100, rng=random.Random(s)), 6) for s in range(20)}
    assert len(spread) > 10


def test_negative_attempt_rejected() -> None:
    with pytest.raises(ValueError):
        backoff_delay(-1, initial=1, maximum=2)
