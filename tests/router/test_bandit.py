"""Posterior updates, position-bias correction and slot reservation (seeded)."""

from __future__ import annotations

import random

import pytest

from ucp.router.bandit import Candidate, Posterior, choose, examination, explore_slots


def test_examination_decreases_with_rank() -> None:
    assert examination(1) == 1.0
    assert examination(2) == 0.5
    assert examination(8) == pytest.approx(0.125)
    with pytest.raises(ValueError):
        examination(0)


def test_updates() -> None:
    p = Posterior()
    p.called(ok=True)
    assert (p.alpha, p.beta) == (2.0, 1.0)
    p.called(ok=False)
    assert p.beta == 3.0  # a failure counts double
    p.shown(rank=4, called=False)
    assert p.beta == pytest.approx(3.25)
    p.shown(rank=1, called=True)  # a shown-and-called impression adds no negative
    assert p.beta == pytest.approx(3.25)


def test_call_at_a_low_rank_is_stronger_evidence_than_at_rank_one() -> None:
    """Same history (shown 10 times, called 3 times), different ranks: the rank-8 tool's
    non-calls count as less negative, so its posterior ends higher (position-bias correction)."""
    top, low = Posterior(), Posterior()
    for i in range(10):
        called = i < 3
        top.shown(rank=1, called=called)
        low.shown(rank=8, called=called)
        if called:
            top.called(ok=True)
            low.called(ok=True)
    assert low.mean > top.mean
    assert top.mean == pytest.approx(4 / (4 + 1 + 7 * 1.0))
    assert low.mean == pytest.approx(4 / (4 + 1 + 7 * 0.125))


def test_explore_slots() -> None:
    assert explore_slots(5, 0.2) == 1
    assert explore_slots(10, 0.2) == 2
    assert explore_slots(5, 0.0) == 0
    assert explore_slots(1, 0.5) == 0
    assert explore_slots(5, 0.9) == 4


def _cands(n: int, fresh: set[str]) -> list[Candidate]:
    out = []
    for i in range(n):
        key = f"t{i}"
        post = Posterior() if key in fresh else Posterior(alpha=1.0, beta=60.0)
        out.append(Candidate(key, relevance=1.0 - i * 0.02, posterior=post))
    return out


def test_choose_keeps_the_exploit_block_and_is_deterministic_with_a_seed() -> None:
    cands = _cands(20, fresh={"t9"})
    a = choose(cands, 5, 1, random.Random(3))
    b = choose(cands, 5, 1, random.Random(3))
    assert a == b
    keys, _ = a
    assert keys[:4] == ["t0", "t1", "t2", "t3"]
    assert len(keys) == 5


def test_uncertain_tools_below_the_cut_get_explored() -> None:
    """t9 has no evidence (uniform posterior); the others were shown 60 times and ignored."""
    cands = _cands(20, fresh={"t9"})
    picks = [choose(cands, 5, 1, random.Random(seed)) for seed in range(200)]
    explored_t9 = sum(1 for keys, explored in picks if keys[-1] == "t9" and "t9" in explored)
    assert explored_t9 > 120  # mostly the uncertain one
    no_explore, explored = choose(cands, 5, 0, random.Random(0))
    assert no_explore == ["t0", "t1", "t2", "t3", "t4"]
    assert explored == set()


def test_irrelevant_candidates_are_rarely_explored() -> None:
    cands = [Candidate(f"t{i}", 1.0, Posterior(5, 5)) for i in range(5)]
    cands.append(Candidate("junk", 0.01, Posterior()))
    picks = [choose(cands, 5, 1, random.Random(s))[0][-1] for s in range(300)]
    assert picks.count("junk") < 15
