"""The analytics against known call histories (call records + the learning feedback store)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.fakes import FakeTransport, tool
from tests.helpers import api_client
from ucp.app import Gateway
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.errors import InvalidArgumentsError
from ucp.observe.analytics import Analytics, date_range
from ucp.observe.records import CallRecord, CallRecords
from ucp.pool.pool import ServerSpec
from ucp.router.feedback import FeedbackStore

pytestmark = pytest.mark.anyio

DAY = 86400.0


def record(ts: float, server: str, tool: str, ms: float, ok: bool = True) -> CallRecord:
    return CallRecord(
        ts, "s1", "cli", server, tool, "ok" if ok else "error", None if ok else "tool_error", ms, ms
    )


@pytest.fixture
def history(tmp_path: Path) -> Analytics:
    today = time.time()
    records = CallRecords(tmp_path / "calls.sqlite")
    for ms in (10, 20, 30, 40):
        records.add(record(today, "git", "status", ms))
    records.add(record(today, "git", "log", 100, ok=False))
    records.add(record(today - DAY, "time", "now", 5))
    records.add(record(today - 400 * DAY, "time", "now", 5))  # outside any default range
    store = FeedbackStore(tmp_path / "learning.sqlite")
    # three rankings: hit at rank 1, hit at rank 3 (first hit counts), and a miss; one explored slot
    store.add_ranking(
        "r1",
        ts=today,
        session="s",
        source="search",
        query="q",
        shown=[("git__status", 1, False)],
        mode="bm25",
    )
    store.add_ranking(
        "r2",
        ts=today,
        session="s",
        source="search",
        query="q",
        shown=[("git__log", 1, False), ("time__now", 2, False), ("git__status", 3, True)],
        mode="bm25",
    )
    store.add_ranking(
        "r3", ts=today, session="s", source="search", query="q", shown=[("time__now", 1, False)], mode="bm25"
    )
    store.add_outcome("r1", ts=today, tool="git__status", rank=1, ok=True, error=None, first_hit=True)
    store.add_outcome("r2", ts=today, tool="git__status", rank=3, ok=True, error=None, first_hit=True)
    store.flush()
    store.close()
    return Analytics(records, tmp_path / "learning.sqlite")


def test_usage_counts_days_servers_and_percentiles(history: Analytics) -> None:
    report = history.usage()
    assert report["total_calls"] == 6 and report["errors"] == 1
    assert len(report["days"]) == 30
    today, yesterday = report["days"][-1], report["days"][-2]
    assert (today["calls"], today["errors"], yesterday["calls"]) == (5, 1, 1)
    assert today["p50_ms"] == 30 and today["p95_ms"] == 100
    servers = {s["server"]: s for s in report["servers"]}
    assert servers["git"]["calls"] == 5 and servers["git"]["error_rate"] == 0.2
    assert servers["time"]["calls"] == 1
    one_day = history.usage(date.fromisoformat(today["day"]), date.fromisoformat(today["day"]))
    assert one_day["total_calls"] == 5 and len(one_day["days"]) == 1


def test_usage_ranges_are_bounded() -> None:
    with pytest.raises(InvalidArgumentsError):
        date_range(date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(InvalidArgumentsError):
        date_range(date(2024, 1, 1), date(2026, 1, 1))
    assert date_range(None, date(2026, 1, 30)) == (date(2026, 1, 1), date(2026, 1, 30))
    assert date_range(date(2026, 1, 1), date(2026, 1, 1) + timedelta(days=365))[1].year == 2027


def test_top_tools_with_the_learned_view(history: Analytics) -> None:
    report = history.tools(top_k=2)
    assert [t["name"] for t in report["tools"]] == ["git__status", "time__now"]
    status = report["tools"][0]
    assert (status["calls"], status["errors"], status["avg_ms"]) == (4, 0, 25.0)
    with pytest.raises(InvalidArgumentsError):
        history.tools(top_k=0)


def test_router_performance_hit_rate_at_k_and_exploration(history: Analytics) -> None:
    report = history.router_performance()
    assert report["rankings"] == 3 and report["hits"] == 2
    assert report["hit_rate"] == round(2 / 3, 4)
    assert report["hit_rate_at"] == {
        "1": round(1 / 3, 4),
        "3": round(2 / 3, 4),
        "5": round(2 / 3, 4),
        "10": round(2 / 3, 4),
    }
    assert report["first_hit_rank"] == {"1": 1, "3": 1}
    assert report["exploration"] == {"slots": 5, "explored_slots": 1, "share": 0.2, "explored_called": 1}
    assert report["daily"][-1]["rankings"] == 3 and report["daily"][-1]["hits"] == 2


def test_no_stores_is_empty_not_an_error(tmp_path: Path) -> None:
    empty = Analytics(None, tmp_path / "missing.sqlite")
    assert empty.usage()["total_calls"] == 0
    assert empty.tools()["tools"] == []
    assert empty.router_performance()["rankings"] == 0


def test_call_records_are_bounded(tmp_path: Path) -> None:
    records = CallRecords(tmp_path / "c.sqlite", max_rows=1000)
    for i in range(1500):
        records.add(record(float(i), "s", "t", 1))
    records.flush()
    assert records.compact() == 500
    assert records.query("SELECT MIN(ts), COUNT(*) FROM calls") == [(500.0, 1000)]


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", "Echo the text back", text="string")])))
        await gw.wait_ready(5)
        await gw.router.wait_synced()
        yield gw


async def test_the_endpoints_over_http_after_real_calls(gateway: Gateway) -> None:
    async with api_client(gateway) as http:
        session = (await http.post("/api/v1/sessions", json={"client_name": "t"})).json()["id"]
        await http.get("/api/v1/tools/search", params={"query": "echo text", "session_id": session})
        for _ in range(3):
            await http.post(
                "/api/v1/tools/call",
                json={"name": "s__echo", "arguments": {"text": "x"}, "session_id": session},
            )
        assert gateway.learner is not None
        gateway.learner.save()  # what the gateway's background loop does every 2 s
        usage = (await http.get("/api/v1/analytics/usage")).json()
        assert usage["total_calls"] == 3 and usage["servers"][0]["server"] == "s"
        tools = (await http.get("/api/v1/analytics/tools", params={"top_k": 5})).json()
        assert tools["tools"][0]["name"] == "s__echo" and tools["tools"][0]["calls"] == 3
        router = (await http.get("/api/v1/analytics/router/performance")).json()
        assert router["rankings"] == 1 and router["hit_rate_at"]["1"] == 1.0
        bad = await http.get("/api/v1/analytics/tools", params={"top_k": 500})
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "top_k"
        bad = await http.get(
            "/api/v1/analytics/usage", params={"start_date": "2026-02-01", "end_date": "2026-01-01"}
        )
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_arguments"
        overview = (await http.get("/api/v1/dashboard/overview")).json()
        assert {n["id"] for n in overview["nodes"]} == {"ucp", "s:s"}
        assert overview["edges"][0]["calls"] == 3
        explained = (await http.get("/api/v1/dashboard/explain", params={"query": "echo text"})).json()
        assert explained["results"][0]["name"] == "s__echo" and "bm25" in explained["results"][0]
        doc = (await http.get("/openapi.json")).json()
        assert "/api/v1/analytics/router/performance" in doc["paths"]
