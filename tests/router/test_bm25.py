"""BM25: scores equal rank_bm25's BM25Okapi with the same parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from ucp.router.bm25 import BM25Index, BM25Params, top_indices

CORPUS = [
    ["weather", "forecast", "city", "weather"],
    ["send", "email", "message"],
    ["search", "web", "page", "search", "result"],
    ["weather", "alert", "storm"],
    ["stock", "price", "quote", "market"],
    ["email", "inbox", "search"],
    ["weather", "history"],  # "weather" in 3 of 7 docs; "search" in 2
]


@pytest.mark.parametrize("params", [BM25Params(), BM25Params(k1=1.2, b=0.5), BM25Params(k1=2.0, b=1.0)])
@pytest.mark.parametrize(
    "query",
    [
        ["weather", "forecast"],
        ["search", "search", "email"],  # repeated query tokens count twice
        ["unknown", "stock"],
        [],
    ],
)
def test_scores_match_rank_bm25(params: BM25Params, query: list[str]) -> None:
    ref = BM25Okapi(CORPUS, k1=params.k1, b=params.b, epsilon=params.epsilon)
    ours = BM25Index(CORPUS, params)
    np.testing.assert_allclose(ours.scores(query), ref.get_scores(query), rtol=1e-12, atol=1e-12)


def test_negative_idf_uses_the_epsilon_floor_like_rank_bm25() -> None:
    corpus = [["common", "a"], ["common", "b"], ["common", "c"], ["rare"]]  # "common": df 3 of 4 -> idf < 0
    ref = BM25Okapi(corpus)
    ours = BM25Index(corpus)
    assert ref.idf["common"] > 0  # rank_bm25 replaced the negative idf
    np.testing.assert_allclose(ours.scores(["common"]), ref.get_scores(["common"]), rtol=1e-12)


vocab = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(vocab, min_size=1, max_size=8), min_size=1, max_size=12),
    st.lists(vocab, max_size=5),
)
def test_random_corpora_match_rank_bm25(corpus: list[list[str]], query: list[str]) -> None:
    ref = BM25Okapi(corpus)
    ours = BM25Index(corpus)
    np.testing.assert_allclose(ours.scores(query), ref.get_scores(query), rtol=1e-9, atol=1e-9)


def test_accepts_token_counts_as_well_as_token_lists() -> None:
    as_lists = BM25Index(CORPUS)
    as_counts = BM25Index([{t: d.count(t) for t in set(d)} for d in CORPUS])
    np.testing.assert_allclose(
        as_lists.scores(["weather", "search"]), as_counts.scores(["weather", "search"])
    )


def test_top_returns_best_positive_scores_first() -> None:
    index = BM25Index(CORPUS)
    ids, scores = index.top(["weather"], 10)
    assert set(ids.tolist()) == {0, 3, 6}  # only documents containing the term
    assert list(scores) == sorted(scores, reverse=True)
    assert ids[0] == 0  # tf 2 beats tf 1


def test_empty_corpus_and_empty_query() -> None:
    empty = BM25Index([])
    assert empty.scores(["x"]).shape == (0,)
    assert BM25Index(CORPUS).scores([]).tolist() == [0.0] * len(CORPUS)


def test_top_indices_orders_by_score_then_index() -> None:
    s = np.array([0.5, 2.0, 0.5, 3.0, 2.0])
    assert top_indices(s, 3).tolist() == [3, 1, 4]
    assert top_indices(s, 10).tolist() == [3, 1, 4, 0, 2]
    assert top_indices(s, 0).tolist() == []


def test_min_idf_keeps_matches_positive_in_tiny_catalogs() -> None:
    tiny = [["weather", "forecast"], ["weather", "alert"]]
    assert BM25Index(tiny).scores(["weather"]).max() <= 0  # rank_bm25 behaviour: no positive match
    floored = BM25Index(tiny, BM25Params(min_idf=0.01)).scores(["weather", "forecast"])
    assert floored[0] > floored[1] > 0
    one = BM25Index([["weather"]], BM25Params(min_idf=0.01))
    assert one.scores(["weather"])[0] > 0 and one.scores(["other"])[0] == 0


def test_min_idf_changes_nothing_in_an_ordinary_corpus() -> None:
    plain = BM25Index(CORPUS)
    floored = BM25Index(CORPUS, BM25Params(min_idf=0.01))
    np.testing.assert_allclose(
        plain.scores(["weather", "search", "email"]), floored.scores(["weather", "search", "email"])
    )
