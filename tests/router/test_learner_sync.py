"""LearnerSync's outage logic with a stand-in for Redis (pure logic; the real store:
tests/integration/test_shared_learning.py and test_state_outage.py)."""

from __future__ import annotations

import pytest

from ucp.config.models import LearningSettings
from ucp.router.learner import Learner
from ucp.router.learner_sync import LearnerSync
from ucp.state.learning import LearningJournal

pytestmark = pytest.mark.anyio


class FlakyStore:
    def __init__(self) -> None:
        self.up = False
        self.pushed: list[dict[str, dict[str, float]]] = []

    async def push(self, batch: LearningJournal) -> list[str]:
        if not self.up:
            raise ConnectionError("down")
        self.pushed.append(batch.deltas)
        return sorted(batch.deltas)


async def test_a_failed_push_keeps_every_increment_until_the_store_is_back() -> None:
    learner = Learner(LearningSettings(), shared=True)
    store = FlakyStore()
    sync = LearnerSync(learner, store, interval=0.01)  # type: ignore[arg-type]
    learner.journal.bump("t", alpha=1.0)
    assert not await sync.flush()
    learner.journal.bump("t", alpha=2.0)
    assert not await sync.flush()
    assert sync.failing and sync.failures == 2
    store.up = True
    assert await sync.flush()
    assert store.pushed == [{"t": {"alpha": 3.0}}]
    assert not sync.failing
    assert len(learner.journal) == 0
    assert await sync.flush()  # nothing pending: nothing sent
    assert len(store.pushed) == 1
