"""Tool-side learning from use (``ucp train``'s tool expansion and co-usage): what training stores,
how serving applies it through ``search(adapter=...)``, that a rollback restores the previous ranking
exactly, and that the held-back check refuses a worse candidate."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from tests.router.synthetic import FILLERS, N, docs, words
from ucp.router.adapter import QueryAdapter
from ucp.router.documents import ToolDoc
from ucp.router.embedder import HashingEmbedder
from ucp.router.expansion import CoUsage, ToolExpansion, TrainedModel
from ucp.router.hybrid import HybridRetriever
from ucp.router.models import AdapterSet, ModelRegistry
from ucp.router.tokenize import tokenize
from ucp.router.training import Pair, TrainReport, co_groups, run_training, split_held_back, with_use_vectors

DIM = 64
TOPICS, ALIASES = words(11)


def _docs() -> list[ToolDoc]:
    return docs(TOPICS)


def _retriever(**kw: object) -> HybridRetriever:
    r = HybridRetriever(HashingEmbedder(dim=DIM), **kw)  # type: ignore[arg-type]
    r.set_docs(_docs(), embed=False)
    assert r.load_dense()
    return r


def _pairs(n: int, seed: int, *, wrong: bool = False, co: bool = False) -> list[Pair]:
    """Query ``ALIASES[i] filler`` (no description has the alias) for tool i; ``co``: tool i + 8 is
    called for the same query too; ``wrong``: labels at random."""
    rng = random.Random(seed)
    out = []
    for j in range(n):
        i = rng.randrange(N // 2 if co else N)
        label = rng.randrange(N) if wrong else i
        q = f"{ALIASES[i]} {rng.choice(FILLERS)}"
        out.append(Pair(q, f"s__t{label}", (), float(j), f"g{j}"))
        if co:
            out.append(Pair(q, f"s__t{i + N // 2}", (), float(j), f"g{j}"))
    return out


def _learned(r: HybridRetriever, pairs: list[Pair], **kw: object) -> ToolExpansion:
    assert r.embedder is not None
    keys = [d.key for d in _docs()]
    vecs = r.doc_vectors(keys)
    return ToolExpansion.learn(
        [p.query for p in pairs],
        r.embedder.encode([p.query for p in pairs]),
        [p.positive for p in pairs],
        {k: vecs[i] for i, k in enumerate(keys)},
        **kw,  # type: ignore[arg-type]
    )


def test_use_vector_is_the_shrunk_blend_of_description_and_query_centroid() -> None:
    r = _retriever()
    assert r.embedder is not None
    pairs = [Pair(f"{ALIASES[2]} please", "s__t2"), Pair(f"{ALIASES[2]} now", "s__t2")]
    exp = _learned(r, pairs, alpha=1.5, terms=False)
    assert exp.use_keys == ("s__t2",) and exp.terms == {}
    qv = r.embedder.encode([p.query for p in pairs])
    c = qv.sum(axis=0) / np.linalg.norm(qv.sum(axis=0))
    v = r.doc_vectors(["s__t2"])[0]
    want = v + 1.5 * 2 / 3 * c
    np.testing.assert_allclose(exp.use_vectors[0], want / np.linalg.norm(want), atol=1e-6)


def test_query_terms_are_capped_to_the_latest_queries_once_per_query() -> None:
    r = _retriever()
    olds = ["alpha", "beta", "gamma", "delta", "epsilon"]
    pairs = [Pair(f"{w} word word", "s__t1") for w in olds] + [Pair("newest word", "s__t1")]
    exp = _learned(r, pairs, max_queries=3, vectors=False)
    bag = exp.terms["s__t1"]
    assert bag["word"] == 3  # three latest queries, the repeated word counted once per query
    assert set(bag) == {"word", "newest", "epsilon", "delta"}
    assert exp.use_keys == ()


def test_serving_applies_terms_on_bm25_and_use_vectors_on_dense() -> None:
    r = _retriever()
    query = f"{ALIASES[5]} again"
    assert "s__t5" not in r.search(query, 3, mode="bm25").keys  # no description says the alias
    terms = _learned(r, [Pair(f"{ALIASES[5]} please", "s__t5")], vectors=False)
    top = r.search(query, 3, mode="bm25", adapter=TrainedModel(expansion=terms))
    assert top.keys[0] == "s__t5" and top[0].bm25 > 0
    vec = _learned(r, [Pair(f"{ALIASES[5]} please", "s__t5")] * 3, terms=False)
    res = r.search(query, N, mode="dense", adapter=TrainedModel(expansion=vec))
    assert res.keys[0] == "s__t5"
    qv = res.query_vector
    assert qv is not None
    got = {t.key: t.dense for t in res}
    assert got["s__t5"] == pytest.approx(float(vec.use_vectors[0] @ qv), abs=1e-6)  # in place of v
    plain = {t.key: t.dense for t in r.search(query, N, mode="dense")}
    assert all(got[k] == plain[k] for k in got if k != "s__t5")  # other tools untouched
    # the adapter inside the bundle still applies to the query
    adapter = QueryAdapter(np.random.default_rng(0).normal(0, 0.3, (DIM, DIM)))
    bundled = r.search(query, 5, adapter=TrainedModel(adapter=adapter))
    assert [(t.key, t.score) for t in bundled] == [
        (t.key, t.score) for t in r.search(query, 5, adapter=adapter)
    ]


def test_use_vectors_also_reach_an_approximate_index() -> None:
    r = _retriever(index_kind="hnsw")
    vec = _learned(r, [Pair(f"{ALIASES[9]} please", "s__t9")] * 3, terms=False)
    res = r.search(f"{ALIASES[9]} now", 3, mode="dense", adapter=TrainedModel(expansion=vec))
    assert res.keys[0] == "s__t9"


def test_co_usage_learns_conditional_shares_and_fills_after_protected_positions() -> None:
    co = CoUsage.learn([["a", "b"], ["a", "b"], ["a"], ["c"]], weight=1.0, anchors=1, protect=2)
    assert co.partners == {"a": {"b": 2 / 4}, "b": {"a": 2 / 3}}
    r = _retriever()
    query = f"handles {TOPICS[0]}"
    base = r.search(query, 10)
    partner = base.keys[-1]
    model = TrainedModel(co_usage=CoUsage({base.keys[0]: {partner: 1.0}}, weight=5.0, anchors=1, protect=3))
    boosted = r.search(query, 10, adapter=model)
    assert boosted.keys[:3] == base.keys[:3]  # protected positions never move
    assert boosted.keys[3] == partner  # lifted to just below position 3, not above
    assert boosted[3].prior > 0 and boosted[3].score < boosted[2].score
    assert all(t.prior == 0.0 for t in boosted if t.key != partner)  # the lift is the partner's alone
    assert r.search(query, 4, adapter=model).keys == boosted.keys[:4]  # k does not change the order
    # a small weight adds just weight * P(b | a)
    small = TrainedModel(co_usage=CoUsage({base.keys[0]: {partner: 0.5}}, weight=0.01, anchors=1, protect=3))
    lifted = {t.key: t.score for t in r.search(query, 10, adapter=small)}
    assert lifted[partner] == pytest.approx(base[-1].score + 0.005, abs=1e-9)


def test_training_learns_expansion_and_co_usage_and_stores_them_exactly(tmp_path: Path) -> None:
    r = _retriever()
    emb = r.embedder
    assert emb is not None
    train, held = split_held_back(_pairs(300, 1, co=True), 0.25)
    report = run_training(
        r, train, held, emb.encode, None, epochs=5, adapter=False, expand=True, co_usage=True
    )
    m = report.model
    assert m.adapter is None and m.expansion is not None and m.co_usage is not None
    assert report.accepted and report.candidate_recall >= report.serving_recall + 0.3
    assert m.co_usage.partners["s__t0"]["s__t8"] > 0.9  # always called together
    assert report.meta()["kind"] == "tool-expansion+co-usage"
    reg = ModelRegistry(tmp_path / "models")
    v = reg.add(m, report.meta())
    loaded = reg.load(v)
    assert loaded is not None and loaded.expansion is not None and loaded.co_usage is not None
    assert loaded.expansion.use_keys == m.expansion.use_keys
    assert np.array_equal(loaded.expansion.use_vectors, m.expansion.use_vectors)
    assert loaded.expansion.terms == m.expansion.terms
    assert loaded.co_usage == m.co_usage
    assert co_groups([Pair("q", "a", group="g"), Pair("q", "b", group="g"), Pair("r", "a")]) == [
        ["a", "b"],
        ["a"],
    ]


def _ranking(r: HybridRetriever, model: TrainedModel | None) -> list[tuple[str, float]]:
    return [(t.key, t.score) for t in r.search(f"{ALIASES[3]} please", 8, adapter=model)]


def test_rollback_restores_the_previous_expanded_ranking_exactly(tmp_path: Path) -> None:
    r = _retriever()
    reg = ModelRegistry(tmp_path / "models")
    rng = np.random.default_rng(1)
    v1 = reg.add(
        TrainedModel(
            QueryAdapter(rng.normal(0, 0.2, (DIM, DIM))),
            _learned(r, [Pair(f"{ALIASES[3]} now", "s__t3")]),
            CoUsage({"s__t3": {"s__t4": 0.5}}),
        ),
        {"status": "trained"},
    )
    v2 = reg.add(
        TrainedModel(None, _learned(r, [Pair(f"{ALIASES[3]} now", "s__t6")] * 4)), {"status": "trained"}
    )
    serving = AdapterSet(reg)
    reg.promote(v1)
    serving.reload()
    before = _ranking(r, serving.pick()[0])
    reg.promote(v2)
    serving.reload()
    after = _ranking(r, serving.pick()[0])
    assert after != before and after[0][0] == "s__t6"
    reg.rollback()
    serving.reload()
    assert serving.pick()[1] == v1 and _ranking(r, serving.pick()[0]) == before  # keys and float scores
    reg.rollback()
    serving.reload()
    assert serving.pick()[0] is None and _ranking(r, None) == _ranking(r, serving.pick()[0])


def test_a_worse_expanded_candidate_is_refused(tmp_path: Path) -> None:
    r = _retriever()
    emb = r.embedder
    assert emb is not None
    good = run_training(r, *split_held_back(_pairs(300, 2), 0.25), emb.encode, None, epochs=5, adapter=False)
    train_wrong, _ = split_held_back(_pairs(300, 3, wrong=True), 0.25)
    _, held = split_held_back(_pairs(300, 4), 0.25)
    worse = run_training(r, train_wrong, held, emb.encode, good.model, epochs=5, adapter=False, co_usage=True)
    assert not worse.accepted and worse.meta()["status"] == "refused"
    reg = ModelRegistry(tmp_path / "models")
    reg.promote(reg.add(good.model, good.meta()))
    bad = reg.add(worse.model, worse.meta())
    with pytest.raises(Exception, match="refused"):
        reg.promote(bad)


def test_the_check_also_refuses_a_lower_recall_at_10() -> None:
    rep = TrainReport(
        TrainedModel(), 10, 10, 0.5, 0.5, 0.0, 0.0, serving_recall10=0.8, candidate_recall10=0.7
    )
    assert not rep.accepted and "R@10" in rep.meta()["reason"]
    ok = TrainReport(TrainedModel(), 10, 10, 0.5, 0.6, 0.0, 0.0, serving_recall10=0.8, candidate_recall10=0.8)
    assert ok.accepted


def test_use_vectors_replace_rows_of_the_training_matrix() -> None:
    vecs = np.eye(3, dtype=np.float32)
    exp = ToolExpansion(["b"], np.asarray([[0.0, 0.6, 0.8]], np.float32))
    out = with_use_vectors(vecs, ["a", "b", "c"], exp)
    np.testing.assert_array_equal(out[1], np.asarray([0.0, 0.6, 0.8], np.float32))
    np.testing.assert_array_equal(out[0], vecs[0])
    assert vecs[1, 1] == 1.0  # the input is not modified
    assert tokenize("handles")  # the tokeniser the term field uses
