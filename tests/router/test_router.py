"""The serving path's search cost: the session context is not encoded again (its dense side is the mean
of the session's recent query vectors), and every search's phases are timed."""

from __future__ import annotations

from pathlib import Path

import anyio

from tests.fakes import tool
from tests.router.test_hybrid import CountingEmbedder
from ucp.config.models import LearningSettings, RouterSettings
from ucp.config.paths import Paths
from ucp.router.base import RankContext
from ucp.router.catalog import Catalog
from ucp.router.hybrid import HybridRetriever
from ucp.router.router import Router


def test_context_is_not_encoded_again_and_phases_are_timed(tmp_path: Path) -> None:
    c = Catalog()
    c.set_server_tools("mail", [tool("send_email", "Send an email."), tool("read_inbox", "Read the inbox.")])
    c.set_server_tools("time", [tool("get_current_time", "Get the current time.")])
    emb = CountingEmbedder()
    retriever = HybridRetriever(emb)
    retriever.set_docs([], embed=False)
    assert retriever.load_dense()
    router = Router(
        c, settings=RouterSettings(), learning=LearningSettings(), paths=Paths(tmp_path), retriever=retriever
    )
    router.sync_now()
    emb.encoded.clear()

    async def main() -> None:
        first = await router.rank("read my inbox", limit=3, context=RankContext(session_id="s"), record=False)
        assert first.results[0].entry.exposed == "mail__read_inbox"
        ctx = RankContext(session_id="s", context="read my inbox mail read inbox")
        second = await router.rank("send an email", limit=3, context=ctx, record=False)
        assert second.results[0].entry.exposed == "mail__send_email"

    anyio.run(main)
    assert emb.encoded == ["read my inbox", "send an email"]  # the context text was never encoded
    summary = router.timing_summary()
    assert summary["n"] == 2 and summary["total"] >= summary["encode"] >= 0.0
    assert set(summary) == {"encode", "search", "context", "total", "n"}


def test_encoder_threads_come_from_the_setting_else_from_the_worker_share() -> None:
    from ucp.config.models import RouterSettings
    from ucp.router.router import ENCODER_THREADS_ENV, encoder_threads

    assert encoder_threads(RouterSettings(), {}) is None  # the encoder's default (2)
    assert encoder_threads(RouterSettings(), {ENCODER_THREADS_ENV: "1"}) == 1  # a worker of --workers 2
    assert encoder_threads(RouterSettings(encoder_threads=4), {ENCODER_THREADS_ENV: "1"}) == 4
    for bad in ("", "zero", "-1", "0", "999"):
        assert encoder_threads(RouterSettings(), {ENCODER_THREADS_ENV: bad}) is None


def test_a_promoted_version_with_tool_expansion_reaches_the_serving_search(tmp_path: Path) -> None:
    from ucp.router.expansion import ToolExpansion, TrainedModel
    from ucp.router.models import ModelRegistry

    c = Catalog()
    c.set_server_tools("mail", [tool("send_email", "Send an email."), tool("read_inbox", "Read the inbox.")])
    c.set_server_tools("time", [tool("get_current_time", "Get the current time.")])
    retriever = HybridRetriever(CountingEmbedder())
    retriever.set_docs([], embed=False)
    assert retriever.load_dense()
    router = Router(
        c, settings=RouterSettings(), learning=LearningSettings(), paths=Paths(tmp_path), retriever=retriever
    )
    router.sync_now()
    reg = ModelRegistry(tmp_path / "models")
    expanded = TrainedModel(expansion=ToolExpansion(terms={"time__get_current_time": {"zorblat": 3}}))
    version = reg.add(expanded, {"status": "trained"})

    async def top(query: str) -> list[str]:
        ranking = await router.rank(query, limit=3, context=RankContext(session_id="s"), record=False)
        return [r.entry.exposed for r in ranking.results]

    before = anyio.run(top, "zorblat mail")
    assert before[0] != "time__get_current_time"
    reg.promote(version)
    router.adapters.reload()
    assert anyio.run(top, "zorblat mail")[0] == "time__get_current_time"  # the logged word now finds it
    reg.rollback()
    router.adapters.reload()
    assert anyio.run(top, "zorblat mail") == before
