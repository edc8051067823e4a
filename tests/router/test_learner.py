"""The learner: attribution of calls to rankings, position-corrected negatives, usage evidence,
exploration, persistence across restarts."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import tool
from ucp.config.models import LearningSettings
from ucp.router.base import RankContext, Ranked, Ranking
from ucp.router.catalog import Catalog
from ucp.router.feedback import FeedbackStore
from ucp.router.learner import Learner


def catalog(n: int) -> Catalog:
    c = Catalog()
    c.set_server_tools("s", [tool(f"t{i}") for i in range(n)])
    return c


def ranked(c: Catalog, scores: list[float]) -> list[Ranked]:
    return [Ranked(entry=c.entries[f"s__t{i}"], score=s) for i, s in enumerate(scores)]


def show(learner: Learner, c: Catalog, session: str, k: int = 5, qvec: np.ndarray | None = None) -> Ranking:
    r = ranked(c, [1.0 - i * 0.05 for i in range(10)])
    ranking = Ranking(query="q", results=tuple(r[:k]), mode="hybrid", ranking_id=f"id{random.random()}")
    return learner.after_rank(
        ranking, r, context=RankContext(session_id=session), record=True, query_vector=qvec
    )


def test_calls_are_attributed_and_negatives_position_corrected() -> None:
    c = catalog(10)
    learner = Learner(LearningSettings(exploration=False))
    shown = show(learner, c, "s1")
    assert [r.entry.exposed for r in shown.results] == [f"s__t{i}" for i in range(5)]
    assert learner.on_call("s1", "s__t4", ok=True)
    assert not learner.on_call("s1", "s__t9", ok=True)  # not shown: not attributed
    assert not learner.on_call("other", "s__t4", ok=True)
    show(learner, c, "s1")  # the next ranking finalises the previous one
    t0, t4 = learner.tools["s__t0"].posterior, learner.tools["s__t4"].posterior
    assert t4.alpha == 2.0
    assert t0.beta == pytest.approx(2.0)  # not called at rank 1: a full negative
    assert learner.tools["s__t1"].posterior.beta == pytest.approx(1.5)  # rank 2: half


def test_failures_sink_and_successes_rise() -> None:
    c = catalog(10)
    learner = Learner(LearningSettings(exploration=False))
    for _ in range(20):
        show(learner, c, "s")
        learner.on_call("s", "s__t3", ok=True)
        learner.on_call("s", "s__t0", ok=False)
    order = [r.entry.exposed for r in show(learner, c, "s").results]
    assert order.index("s__t3") < 3
    assert order.index("s__t0") > 0


def test_usage_evidence_follows_successful_calls_only() -> None:
    c = catalog(10)
    learner = Learner(LearningSettings(exploration=False))
    q = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    show(learner, c, "s", qvec=q)
    learner.on_call("s", "s__t2", ok=True)
    learner.on_call("s", "s__t1", ok=False)
    floor = learner.usage_floor(q)
    assert set(floor) == {"s__t2"}
    assert learner.usage_floor(None) == {}


def test_exploration_is_seeded_and_marks_explored_slots() -> None:
    c = catalog(12)
    a = Learner(LearningSettings(exploration=True, explore_share=0.2, seed=7))
    b = Learner(LearningSettings(exploration=True, explore_share=0.2, seed=7))
    ra = [r.entry.exposed for r in show(a, c, "s").results]
    rb = [r.entry.exposed for r in show(b, c, "s").results]
    assert ra == rb
    assert ra[:4] == ["s__t0", "s__t1", "s__t2", "s__t3"]
    explored = [r for _ in range(30) for r in show(a, c, "s").results if r.explored]
    assert explored, "with uncertain candidates below the cut, some slots are explored"


def test_disabled_learning_changes_nothing() -> None:
    c = catalog(10)
    learner = Learner(LearningSettings(enabled=False))
    before = ranked(c, [1.0 - i * 0.05 for i in range(10)])
    ranking = Ranking(query="q", results=tuple(before[:5]), mode="hybrid", ranking_id="x")
    assert learner.after_rank(ranking, before, context=None, record=True) is ranking


def test_state_survives_a_restart(tmp_path: Path) -> None:
    c = catalog(10)
    store_path = tmp_path / "learning.sqlite"
    learner = Learner(LearningSettings(exploration=False), FeedbackStore(store_path))
    q = np.array([0.0, 1.0], dtype=np.float32)
    for _ in range(3):
        show(learner, c, "s", qvec=q)
        learner.on_call("s", "s__t6", ok=False)
        learner.on_call("s", "s__t4", ok=True)
    learner.close()
    again = Learner(LearningSettings(exploration=False), FeedbackStore(store_path))
    assert again.tools["s__t4"].succeeded == 3
    assert again.tools["s__t4"].posterior.alpha == 4.0
    assert "s__t4" in again.usage_floor(q)
    stats = {row["tool"]: row for row in again.stats()}
    assert stats["s__t4"]["called"] == 3
    again.reset()
    assert again.stats() == []
    again.close()


def test_gateway_sets_a_corrupt_store_aside(tmp_path: Path) -> None:
    from ucp.app import Gateway
    from ucp.config.models import Config
    from ucp.config.paths import Paths

    paths = Paths(tmp_path).ensure()
    paths.learning_db.write_bytes(b"garbage" * 1000)
    gateway = Gateway(Config(builtins=False), paths, dense=False)
    assert gateway.learner is not None
    assert gateway.learner.stats() == []
    kept = list(tmp_path.glob("state/learning.sqlite.corrupt-*"))
    assert len(kept) == 1
    assert kept[0].read_bytes().startswith(b"garbage")
    gateway.learner.close()


def test_shared_learner_journals_exactly_what_it_applies_locally() -> None:
    c = catalog(10)
    learner = Learner(LearningSettings(exploration=False), shared=True)
    qvec = np.ones(4, dtype=np.float32)
    show(learner, c, "s", qvec=qvec)
    learner.on_call("s", "s__t2", ok=True)
    learner.on_call("s", "s__t3", ok=False)
    show(learner, c, "s")
    for key, st in learner.tools.items():
        d = learner.journal.deltas[key]
        assert 1.0 + d.get("alpha", 0.0) == pytest.approx(st.posterior.alpha), key
        assert 1.0 + d.get("beta", 0.0) == pytest.approx(st.posterior.beta), key
        assert d.get("shown", 0) == st.shown
    assert [(op.tool, op.op) for op in learner.journal.usage] == [("s__t2", "add"), ("s__t3", "penalize")]


def test_apply_shared_adds_the_increments_not_yet_pushed() -> None:
    from ucp.state.learning import SharedTool

    learner = Learner(LearningSettings(exploration=False), shared=True)
    learner.journal.bump("s__a", alpha=1.0, shown=1)
    learner.tools["s__gone"] = learner.state("s__gone")
    learner.apply_shared({"s__a": SharedTool({"alpha": 4.0, "beta": 2.0, "shown": 7})}, ["s__a", "s__gone"])
    a = learner.tools["s__a"]
    assert (a.posterior.alpha, a.posterior.beta, a.shown) == (6.0, 3.0, 8)
    assert "s__gone" not in learner.tools  # no shared counts and nothing pending: reset elsewhere


def test_shared_learner_saves_events_but_not_statistics(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "l.sqlite")
    learner = Learner(LearningSettings(exploration=False), store, shared=True)
    show(learner, catalog(10), "s")
    learner.on_call("s", "s__t1", ok=True)
    learner.save()
    assert store.count_events() == 1
    assert store.load_tools() == []  # the statistics live in the shared store
    learner.close()
