"""Thompson sampling over Beta posteriors, with a position-bias correction. Pure; seeded RNG.

Each tool has a Beta(α, β) posterior on "shown → called and it worked". Evidence:

- shown at rank r and not called:  β += p(r)          (weak negative, scaled by examination)
- called and succeeded:             α += 1
- called and failed (``is_error``): β += 2            (a failure is worse than being ignored)

Position bias. A model reads the top of a list more than the bottom, so a non-call at
rank 1 says more than a non-call at rank 8, and a call at rank 8 says more than a call at
rank 1. We use the position-based model's examination probability p(r) = r^-η (η = 1):
a non-call only counts as p(r) of a negative, so a tool that is called despite low
ranks accumulates fewer negatives and ends with a higher posterior mean than a tool
with the same number of calls at rank 1 — the correction "inverse propensity"
estimators make (clicks / Σ examination). Documented choice: we correct on every slot
(not only explored ones) because explored slots alone are too rare to learn from at
k = 5 with one exploration slot.

Exploration. ``choose`` fills the last ``n_explore`` of ``k`` slots by Thompson
sampling among the candidates ranked just below the exploited ones: each draws
θ ~ Beta(α, β) and is scored θ × (its relevance relative to the best candidate), so
uncertain tools (few impressions) get a chance but an irrelevant one rarely does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

PRIOR_ALPHA = 1.0
PRIOR_BETA = 1.0
FAILURE_WEIGHT = 2.0
ETA = 1.0
FAILURE_WEIGHT = 2.0


def examination(rank: int, eta: float = ETA) -> float:
    """Probability that a model reads the tool at ``rank`` (1-based): r^-η."""
    if rank < 1:
        raise ValueError("ranks are 1-based")
    return float(float(rank) ** -eta)


@dataclass
class Posterior:
    alpha: float = PRIOR_ALPHA
    beta: float = PRIOR_BETA

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def evidence(self) -> float:
        """Pseudo-observations beyond the prior."""
        return self.alpha + self.beta - PRIOR_ALPHA - PRIOR_BETA

    def shown(self, rank: int, called: bool) -> None:
        if not called:
            self.beta += examination(rank)

    def called(self, ok: bool) -> None:
        if ok:
            self.alpha += 1.0
        else:
            self.beta += FAILURE_WEIGHT

    def sample(self, rng: random.Random) -> float:
        return rng.betavariate(self.alpha, self.beta)


@dataclass(frozen=True)
class Candidate:
    key: str
    relevance: float
    posterior: Posterior


def explore_slots(k: int, share: float) -> int:
    """How many of ``k`` slots are open to exploration (at least one when share > 0 and k > 1)."""
    if share <= 0 or k <= 1:
        return 0
    return max(1, min(k - 1, round(k * share)))


def choose(
    ranked: Sequence[Candidate], k: int, n_explore: int, rng: random.Random, band: int = 10
) -> tuple[list[str], set[str]]:
    """The ``k`` keys to show (best first) and which of them were explored.

    Slots 1..k-n are the exploit ranking; the remaining n are drawn by Thompson sampling
    from ranks k-n+1 .. k+band (so a sampled-in candidate may also be one the exploit
    ranking would have shown anyway — then nothing is "explored").
    """
    keys = [c.key for c in ranked]
    if n_explore <= 0 or len(ranked) <= k - n_explore:
        return keys[:k], set()
    fixed = list(ranked[: k - n_explore])
    pool = list(ranked[k - n_explore : k + band])
    top = max((c.relevance for c in pool), default=0.0) or 1.0
    draws = sorted(pool, key=lambda c: -(c.posterior.sample(rng) * max(c.relevance, 0.0) / top))
    picked = draws[:n_explore]
    would_show = set(keys[:k])
    explored = {c.key for c in picked if c.key not in would_show}
    # keep the sampled ones in their relevance order below the exploit block
    picked.sort(key=lambda c: -c.relevance)
    return [c.key for c in fixed] + [c.key for c in picked], explored
