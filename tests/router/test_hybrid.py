"""HybridRetriever: cold start on BM25, dense in the background, priors, filters, incremental updates."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from ucp.router.documents import ToolDoc
from ucp.router.embed_cache import EmbedCache
from ucp.router.embedder import HashingEmbedder, Vectors, embedding_key, embedding_text
from ucp.router.hybrid import HybridRetriever


class CountingEmbedder(HashingEmbedder):
    """HashingEmbedder that counts the texts it encodes."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> Vectors:
        self.encoded.extend(texts)
        return super().encode(texts)


class BrokenEmbedder(HashingEmbedder):
    def load(self) -> None:
        raise RuntimeError("no model here")


def doc(key: str, description: str, server: str = "s", **kw: object) -> ToolDoc:
    return ToolDoc(key=key, name=key.split("__")[-1], server=server, description=description, **kw)  # type: ignore[arg-type]


DOCS = [
    doc("weather__get_forecast", "Weather forecast for a city: temperature, rain and wind"),
    doc("mail__send_email", "Send an email message to a recipient"),
    doc("web__search", "Search the web and return result pages"),
    doc("fin__stock_quote", "Current stock price quote for a ticker symbol"),
    doc("cal__create_event", "Create a calendar event with a title and a date"),
]


def test_bm25_serves_before_dense_is_loaded() -> None:
    r = HybridRetriever(CountingEmbedder())
    r.set_docs(DOCS)
    res = r.search("weather forecast in Paris", 3)
    assert res.mode == "bm25" and res.requested_mode == "hybrid"
    assert res.keys[0] == "weather__get_forecast"
    assert res[0].dense is None and res.query_vector is None
    assert not r.dense_ready


def test_hybrid_after_load_dense_with_components() -> None:
    emb = CountingEmbedder()
    r = HybridRetriever(emb)
    r.set_docs(DOCS)
    assert emb.encoded == []  # nothing is embedded before the dense side is started
    assert r.load_dense()
    res = r.search("send an email", 3)
    assert res.mode == "hybrid" and r.dense_ready
    top = res[0]
    assert top.key == "mail__send_email"
    assert top.dense is not None and top.dense_norm is not None
    w = r.fusion.dense_weight
    assert top.z == pytest.approx(w * top.dense_norm + (1 - w) * top.bm25_norm)  # z-score components
    assert top.fused == pytest.approx(1.0)  # the best fused z, scaled to the top of [0.01, 1]
    assert all(0.01 - 1e-9 <= t.fused <= top.fused and t.z <= top.z for t in res)
    assert top.score == pytest.approx(top.fused + top.prior)
    assert res.query_vector is not None and res.query_vector.shape == (64,)
    assert set(top.as_dict()) >= {"key", "score", "bm25", "bm25_norm", "dense", "dense_norm", "prior", "z"}
    scores = [t.score for t in res]
    assert scores == sorted(scores, reverse=True)


def test_single_modes() -> None:
    r = HybridRetriever(HashingEmbedder(dim=64))
    r.set_docs(DOCS)
    r.load_dense()
    assert r.search("stock price", 2, mode="bm25").mode == "bm25"
    dense = r.search("stock price", 2, mode="dense")
    assert dense.mode == "dense" and dense[0].key == "fin__stock_quote"
    assert dense[0].fused == pytest.approx(dense[0].dense_norm or 0.0)


def test_boosts_are_additive_and_must_be_non_negative() -> None:
    r = HybridRetriever(HashingEmbedder(dim=64))
    r.set_docs(DOCS)
    r.load_dense()
    plain = r.search("search the web", 5)
    boosted = r.search("search the web", 5, boosts={"cal__create_event": 2.0, "unknown": 1.0})
    assert boosted[0].key == "cal__create_event" and boosted[0].prior == 2.0
    assert boosted[0].score == pytest.approx(boosted[0].fused + 2.0)
    assert plain[0].key == "web__search"
    with pytest.raises(ValueError):
        r.search("x", 3, boosts={"web__search": -1.0})
    with pytest.raises(ValueError):
        r.search("x", 3, boosts={"web__search": float("nan")})


def test_boost_brings_in_a_tool_without_any_match() -> None:
    r = HybridRetriever()  # BM25 only
    r.set_docs(DOCS)
    res = r.search("weather", 5, boosts={"fin__stock_quote": 0.1})
    assert res.keys == ["weather__get_forecast", "fin__stock_quote"]  # zero-score tools are left out


def test_allowed_filter_applies_before_top_k() -> None:
    r = HybridRetriever(HashingEmbedder(dim=64))
    r.set_docs(DOCS)
    r.load_dense()
    res = r.search("weather forecast", 2, allowed=lambda k: not k.startswith("weather"))
    assert "weather__get_forecast" not in res.keys and len(res) == 2


def test_incremental_updates_embed_only_new_content(tmp_path: Path) -> None:
    emb = CountingEmbedder()
    r = HybridRetriever(emb, cache=EmbedCache(tmp_path))
    r.set_docs(DOCS)
    r.load_dense()
    assert len(emb.encoded) == len(DOCS)
    new = doc("maps__route", "Driving directions and route between two places")
    changed = doc("mail__send_email", "Send an email with attachments")
    r.upsert([new, changed, DOCS[0]])
    assert sorted(emb.encoded[len(DOCS) :]) == sorted([embedding_text(new), embedding_text(changed)])
    assert r.search("driving directions", 1).keys == ["maps__route"]
    r.remove(["maps__route", "nope"])
    assert "maps__route" not in r.search("driving directions route", 5).keys
    assert len(r) == len(DOCS)
    # a new process with the same cache directory embeds nothing
    emb2 = CountingEmbedder()
    r2 = HybridRetriever(emb2, cache=EmbedCache(tmp_path))
    r2.set_docs([*DOCS, new])
    assert r2.load_dense() and emb2.encoded == []


def test_query_vector_is_accepted_and_returned() -> None:
    emb = CountingEmbedder()
    r = HybridRetriever(emb)
    r.set_docs(DOCS)
    r.load_dense()
    before = len(emb.encoded)
    qv = emb.encode(["calendar event"])[0]
    emb.encoded.clear()
    res = r.search("calendar event", 1, query_vector=qv)
    assert emb.encoded == [] and before == len(DOCS)
    np.testing.assert_array_equal(res.query_vector, qv)
    r.search("calendar event", 1)
    r.search("calendar event", 1)  # the query vector is cached
    assert emb.encoded == ["calendar event"]


def test_broken_embedder_leaves_bm25_serving() -> None:
    r = HybridRetriever(BrokenEmbedder(dim=8))
    r.set_docs(DOCS)
    assert not r.load_dense()
    assert r.dense_error is not None and "no model here" in r.dense_error
    assert r.search("weather", 1).mode == "bm25"


@pytest.mark.anyio
async def test_start_dense_runs_in_a_worker_thread() -> None:
    seen: list[str] = []

    class ThreadRecorder(HashingEmbedder):
        def encode(self, texts: list[str]) -> Vectors:
            seen.append(threading.current_thread().name)
            return super().encode(texts)

    r = HybridRetriever(ThreadRecorder(dim=16))
    r.set_docs(DOCS)
    assert await r.start_dense()
    assert seen and threading.main_thread().name not in seen
    assert r.search("stock", 1).mode == "hybrid"


def test_approximate_index_path_matches_exact_on_the_top() -> None:
    docs = [
        doc(f"t{i}__tool{i}", f"tool number {i} does thing {i % 7} with item {i % 11}") for i in range(60)
    ]
    exact = HybridRetriever(HashingEmbedder(dim=64))
    approx = HybridRetriever(HashingEmbedder(dim=64), approx_threshold=10)
    for r in (exact, approx):
        r.set_docs(docs)
        r.load_dense()
    assert exact.stats()["index"] == "flat" and approx.stats()["index"] == "hnsw"
    for q in ("thing 3 item 5", "tool number 42", "item 7"):
        assert approx.search(q, 3).keys == exact.search(q, 3).keys


def test_searches_during_updates_see_consistent_snapshots() -> None:
    r = HybridRetriever(HashingEmbedder(dim=32))
    r.set_docs(DOCS)
    r.load_dense()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                res = r.search("weather forecast", 3)
                assert res.keys and len(set(res.keys)) == len(res.keys)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(30):
        r.upsert([doc(f"x__tool{i}", f"extra weather tool {i}")])
        if i % 3 == 0:
            r.remove([f"x__tool{i - 1}"])
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert not errors


def test_embedding_text_and_key() -> None:
    d = ToolDoc(
        key="k",
        name="getForecast",
        server="weather",
        description="Daily forecast.",
        input_schema={"properties": {"zipCode": {"description": "US zip"}, "days": {}}},
    )
    assert embedding_text(d) == "get forecast: Daily forecast. Parameters: zip code (US zip); days"
    assert embedding_key("a") != embedding_key("b") and len(embedding_key("a")) == 32


def test_usage_vectors_raise_dense_similarity_but_never_lower_it() -> None:
    emb = HashingEmbedder(dim=64)
    r = HybridRetriever(emb)
    r.set_docs(DOCS)
    r.load_dense()
    query = "book a table for dinner"
    before = {t.key: t.dense for t in r.search(query, 5, mode="dense")}
    usage = emb.encode([query])[0]
    r.set_usage_vectors({"cal__create_event": usage, "unknown__tool": usage})
    after = r.search(query, 5, mode="dense")
    assert after[0].key == "cal__create_event" and after[0].dense == pytest.approx(1.0, abs=1e-5)
    for t in after:
        if t.key in before and before[t.key] is not None:
            assert (t.dense or 0.0) >= (before[t.key] or 0.0) - 1e-6
    r.set_usage_vectors({})
    assert {t.key: t.dense for t in r.search(query, 5, mode="dense")} == before


def test_dense_floor_lifts_a_tool_and_never_lowers_one() -> None:
    r = HybridRetriever(HashingEmbedder(dim=64))
    r.set_docs(DOCS)
    r.load_dense()
    query = "weather forecast"
    plain = {t.key: t for t in r.search(query, 5, mode="dense")}
    floored = r.search(
        query, 5, mode="dense",
        dense_floor={"fin__stock_quote": 0.99, "weather__get_forecast": -0.5, "nope": 1.0, "web__search": float("nan")},
    )  # fmt: skip
    assert floored[0].key == "fin__stock_quote" and floored[0].dense == pytest.approx(0.99)
    weather = next(t for t in floored if t.key == "weather__get_forecast")
    assert weather.dense == pytest.approx(plain["weather__get_forecast"].dense)
