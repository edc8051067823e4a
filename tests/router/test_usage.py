from __future__ import annotations

import numpy as np
import pytest

from ucp.router.usage import UsageMemory


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_similarity_to_the_centroid_with_shrinkage() -> None:
    mem = UsageMemory(shrink=1.0, decay=1.0)
    mem.add("a", unit(1, 0, 0))
    sims = mem.similarities(unit(1, 0, 0))
    assert sims["a"] == pytest.approx(0.5)  # one sample: shrunk by 1 / (1 + 1)
    for _ in range(9):
        mem.add("a", unit(1, 0, 0))
    assert mem.similarities(unit(1, 0, 0))["a"] == pytest.approx(10 / 11, rel=1e-5)
    assert "a" not in mem.similarities(unit(-1, 0, 0))  # only positive evidence is returned


def test_centroid_averages_and_decay_follows_drift() -> None:
    mem = UsageMemory(shrink=0.0, decay=0.5)
    mem.add("a", unit(1, 0))
    mem.add("a", unit(0, 1))
    sims = mem.similarities(unit(0, 1))
    # sum = 0.5*(1,0) + (0,1): the newer direction dominates
    assert sims["a"] == pytest.approx(1 / np.sqrt(1.25), rel=1e-5)


def test_ignores_bad_vectors_and_round_trips() -> None:
    mem = UsageMemory()
    mem.add("a", np.zeros(3, dtype=np.float32))
    assert len(mem) == 0
    mem.add("a", unit(1, 2, 3))
    mem.add("b", unit(3, 2, 1))
    mem.add("c", unit(1, 2))  # another dimension: ignored
    assert len(mem) == 2
    other = UsageMemory()
    other.load(mem.export())
    q = unit(1, 1, 1)
    assert other.similarities(q) == pytest.approx(mem.similarities(q))
    other.forget("a")
    assert set(other.similarities(q)) == {"b"}
