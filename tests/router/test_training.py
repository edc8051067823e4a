"""ucp train's engine and model versions: pairs from the store, an adapter that learns, the held-back
check that refuses a worse model, promote / rollback (exact rankings) and the A/B split."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tests.router.synthetic import FILLERS, N, docs, words
from ucp.router.adapter import QueryAdapter
from ucp.router.documents import ToolDoc
from ucp.router.embedder import HashingEmbedder
from ucp.router.expansion import TrainedModel
from ucp.router.feedback import FeedbackStore
from ucp.router.hybrid import HybridRetriever
from ucp.router.models import BASE, AdapterSet, ModelError, ModelRegistry, in_candidate_arm
from ucp.router.training import Pair, docs_from_store, pairs_from_store, run_training, split_held_back

TOPICS, ALIASES = words(7)


def _docs() -> list[ToolDoc]:
    return docs(TOPICS)


def _retriever() -> HybridRetriever:
    r = HybridRetriever(HashingEmbedder(dim=64))
    r.set_docs(_docs(), embed=False)
    assert r.load_dense()
    return r


def _pairs(n: int, seed: int, *, wrong: bool = False) -> list[Pair]:
    """Queries say ``ALIASES[i]`` (a word no description has) for tool i; ``wrong`` labels them at random."""
    rng = random.Random(seed)
    out = []
    for j in range(n):
        i = rng.randrange(N)
        label = rng.randrange(N) if wrong else i
        out.append(
            Pair(f"{ALIASES[i]} {rng.choice(FILLERS)}", f"s__t{label}", (f"s__t{(i + 1) % N}",), float(j))
        )
    return out


def test_pairs_and_docs_come_from_the_learning_store(tmp_path: Path) -> None:
    db = tmp_path / "learning.sqlite"
    store = FeedbackStore(db)
    shown = [("s__t0", 1, False), ("s__t1", 2, False), ("s__t2", 3, True)]
    store.add_ranking(
        "r1", ts=1.0, session="a", source="search", query="find topic1", shown=shown, mode="hybrid"
    )
    store.add_outcome("r1", ts=2.0, tool="s__t1", rank=2, ok=True, error=None, first_hit=True)
    store.add_ranking("r2", ts=3.0, session="a", source="search", query="other", shown=shown, mode="hybrid")
    store.add_outcome("r2", ts=4.0, tool="s__t0", rank=1, ok=False, error="boom", first_hit=True)
    store.add_tool_docs(_docs()[:3], 1.0)
    store.close()
    assert pairs_from_store(db) == [
        Pair("find topic1", "s__t1", ("s__t0", "s__t2"), 1.0, "r1")
    ]  # failures are no pair
    assert [d.key for d in docs_from_store(db)] == ["s__t0", "s__t1", "s__t2"]
    assert pairs_from_store(tmp_path / "absent.sqlite") == []


def test_held_back_is_the_latest_share() -> None:
    pairs = _pairs(10, 0)
    train, held = split_held_back(pairs, 0.2)
    assert len(held) == 2 and max(p.ts for p in train) < min(p.ts for p in held)
    with pytest.raises(ValueError):
        split_held_back(pairs, 1.0)


def test_training_beats_the_untrained_router_on_held_back_pairs() -> None:
    r = _retriever()
    train, held = split_held_back(_pairs(400, 1), 0.25)
    emb = r.embedder
    assert emb is not None
    report = run_training(r, train, held, emb.encode, None, epochs=30)
    assert report.serving_recall < 0.6
    assert report.candidate_recall >= report.serving_recall + 0.3
    assert report.accepted and report.meta()["status"] == "trained"


def test_a_worse_model_is_refused_and_cannot_be_promoted(tmp_path: Path) -> None:
    r = _retriever()
    emb = r.embedder
    assert emb is not None
    good = run_training(r, *split_held_back(_pairs(400, 2), 0.25), emb.encode, None, epochs=30)
    train_wrong, _ = split_held_back(_pairs(400, 3, wrong=True), 0.25)
    _, held = split_held_back(_pairs(400, 4), 0.25)
    worse = run_training(r, train_wrong, held, emb.encode, good.adapter, epochs=30)
    assert worse.candidate_recall < worse.serving_recall and not worse.accepted
    reg = ModelRegistry(tmp_path / "models")
    v_good = reg.add(good.adapter, good.meta())
    reg.promote(v_good)
    v_bad = reg.add(worse.adapter, worse.meta())
    assert reg.meta(v_bad)["status"] == "refused"
    with pytest.raises(ModelError, match="refused"):
        reg.promote(v_bad)
    assert reg.state().serving == v_good


def _ranking(r: HybridRetriever, adapter: QueryAdapter | TrainedModel | None) -> list[tuple[str, float]]:
    return [(t.key, t.score) for t in r.search(f"{ALIASES[3]} please", 8, adapter=adapter)]


def test_promote_then_rollback_restores_the_previous_ranking_exactly(tmp_path: Path) -> None:
    r = _retriever()
    rng = np.random.default_rng(0)
    reg = ModelRegistry(tmp_path / "models")
    v1 = reg.add(QueryAdapter(rng.normal(0, 0.3, (64, 64))), {"status": "trained"})
    v2 = reg.add(QueryAdapter(rng.normal(0, 0.3, (64, 64))), {"status": "trained"})
    serving = AdapterSet(reg)
    assert serving.pick()[1] == BASE and _ranking(r, serving.pick()[0]) == _ranking(r, None)
    reg.promote(v1)
    serving.reload()
    before = _ranking(r, serving.pick()[0])
    reg.promote(v2)
    serving.reload()
    assert serving.pick()[1] == v2 and _ranking(r, serving.pick()[0]) != before
    reg.rollback()
    serving.reload()
    assert serving.pick()[1] == v1
    assert _ranking(r, serving.pick()[0]) == before  # same keys, same float scores
    reg.rollback()
    with pytest.raises(ModelError, match="nothing to roll back"):
        reg.rollback()
    with pytest.raises(ModelError, match="unknown model version"):
        reg.promote("v0099")


def test_ab_share_serves_the_candidate_to_a_stable_fraction_of_sessions(tmp_path: Path) -> None:
    reg = ModelRegistry(tmp_path / "models")
    v1 = reg.add(QueryAdapter(np.zeros((64, 64))), {"status": "trained"})
    reg.set_ab(v1, 0.3)
    serving = AdapterSet(reg)
    arms = [serving.pick(f"session-{i}")[1] for i in range(2000)]
    share = arms.count(v1) / len(arms)
    assert 0.25 < share < 0.35 and set(arms) == {BASE, v1}
    assert [serving.pick(f"session-{i}")[1] for i in range(50)] == arms[:50]  # stable per session
    assert not in_candidate_arm("", 1.0)
    with pytest.raises(ModelError):
        reg.set_ab(v1, 1.5)
