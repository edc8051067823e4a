"""/metrics after real calls through the one call path, parsed with Prometheus' own text parser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import FakeTransport, tool
from tests.helpers import api_client
from ucp.app import Gateway
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.observe.metrics import Metrics
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return parsed.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Gateway, FakeTransport]]:
    transport = FakeTransport(
        tools=[tool("echo", "Echo the text back", text="string"), tool("fail", "Always fails")]
    )
    transport.results["fail"] = types.CallToolResult(
        content=[types.TextContent(type="text", text="no")], is_error=True
    )
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        gw.pool.add(ServerSpec("s", transport))
        await gw.wait_ready(5)
        await gw.router.wait_synced()
        yield gw, transport


async def test_calls_latency_state_sessions_and_router_after_real_calls(
    gateway: tuple[Gateway, FakeTransport],
) -> None:
    gw, _ = gateway
    async with api_client(gw) as http:
        session = (await http.post("/api/v1/sessions", json={"client_name": "dash"})).json()["id"]
        found = await http.get("/api/v1/tools/search", params={"query": "echo text", "session_id": session})
        assert found.json()["results"][0]["name"] == "s__echo"
        for text in ("a", "b"):
            r = await http.post(
                "/api/v1/tools/call",
                json={"name": "s__echo", "arguments": {"text": text}, "session_id": session},
            )
            assert r.status_code == 200
        await http.post("/api/v1/tools/call", json={"name": "s__fail", "session_id": session})
        await http.post("/api/v1/tools/call", json={"name": "s__nope", "session_id": session})
        with anyio.fail_after(10):  # the list change is announced after a debounce: wait for it
            while True:
                resp = await http.get("/metrics")
                if value(samples(resp.text), "ucp_list_change_notifications_total", kind="tools") >= 1:
                    break
                await anyio.sleep(0.05)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    m = samples(resp.text)
    assert value(m, "ucp_tool_calls_total", server="s", tool="echo", outcome="ok") == 2
    assert value(m, "ucp_tool_calls_total", server="s", tool="fail", outcome="error") == 1
    assert value(m, "ucp_tool_calls_total", server="", tool="", outcome="unknown_tool") == 1
    # UCP's own time and the downstream's, apart: three calls reached the downstream
    assert value(m, "ucp_call_overhead_seconds_count", server="s") == 3
    assert value(m, "ucp_downstream_call_seconds_count", server="s") == 3
    assert 0 < value(m, "ucp_call_overhead_seconds_sum", server="s") < 1
    assert value(m, "ucp_calls_in_flight", server="s") == 0
    assert value(m, "ucp_downstream_up", server="s") == 1
    assert value(m, "ucp_downstream_state", server="s", state="ready") == 1
    assert value(m, "ucp_downstream_restarts", server="s") == 0
    assert value(m, "ucp_downstream_tools", server="s") == 2
    assert value(m, "ucp_sessions", mode="full", client="dash") == 1
    assert value(m, "ucp_searches_total", mode="bm25") == 1
    # the search was followed by a call of its first result: a hit at every k
    assert value(m, "ucp_router_searches_followed_total") == 1
    assert value(m, "ucp_router_hits_total", k="1") == 1
    assert value(m, "ucp_router_hit_rate", k="1") == 1.0
    assert value(m, "ucp_router_results_shown_total", explored="false") >= 1
    assert ("ucp_router_exploration_share", frozenset()) in m
    assert value(m, "ucp_list_change_notifications_total", kind="tools") >= 1


async def test_a_dropped_downstream_shows_down_and_restarts(gateway: tuple[Gateway, FakeTransport]) -> None:
    gw, transport = gateway
    transport.fail_connects = 1000
    transport.drop()
    for _ in range(200):
        m = samples(gw.telemetry.metrics.render().decode())
        if (
            value(m, "ucp_downstream_up", server="s") == 0
            and value(m, "ucp_downstream_restarts", server="s") >= 1
        ):
            break
        import anyio

        await anyio.sleep(0.05)
    assert value(m, "ucp_downstream_up", server="s") == 0
    assert value(m, "ucp_downstream_restarts", server="s") >= 1


def test_tool_labels_are_bounded() -> None:
    metrics = Metrics(max_tool_labels=2)
    for name in ("a", "b", "c", "d", "a"):
        metrics.call_started("s")
        metrics.call_finished("s", name, "ok", 0.0001, 0.01)
    m = samples(metrics.render().decode())
    tools = {dict(k[1])["tool"] for k in m if k[0] == "ucp_tool_calls_total"}
    assert tools == {"a", "b", "other"}
    assert value(m, "ucp_tool_calls_total", server="s", tool="other", outcome="ok") == 2
    assert value(m, "ucp_tool_calls_total", server="s", tool="a", outcome="ok") == 2


def test_registries_are_per_gateway_and_auth_counters_exist() -> None:
    one, two = Metrics(), Metrics()
    one.auth_denied("invalid_key")
    one.rate_limit_hit("key")
    assert one.value("ucp_auth_denials_total", {"reason": "invalid_key"}) == 1
    assert one.value("ucp_rate_limited_total", {"scope": "key"}) == 1
    assert two.value("ucp_auth_denials_total", {"reason": "invalid_key"}) == 0


def test_hit_rate_at_k_counts_only_the_first_call_after_a_search() -> None:
    metrics = Metrics()
    metrics.followed_search(2)
    metrics.followed_search(None)
    assert metrics.value("ucp_router_hit_rate", {"k": "1"}) == 0
    assert metrics.value("ucp_router_hit_rate", {"k": "3"}) == 0.5
    metrics.searched("bm25", 0.001, shown=5, explored=1)
    assert metrics.value("ucp_router_exploration_share") == pytest.approx(0.2)


async def test_metrics_need_the_api_key_when_keys_are_set(tmp_path: Path) -> None:
    from ucp.config.models import HttpSettings
    from ucp.frontend.auth import hash_key

    cfg = Config(builtins=False, http=HttpSettings(api_keys=(hash_key("k3y"),)))
    async with Gateway(cfg, Paths(tmp_path).ensure(), dense=False) as gw, api_client(gw) as http:
        assert (await http.get("/metrics")).status_code == 401
        ok = await http.get("/metrics", headers={"authorization": "Bearer k3y"})
        assert ok.status_code == 200 and "ucp_tool_calls" in ok.text
        # the dashboard's static shell loads without a key (a browser cannot send one on navigation);
        # its data does not
        page = await http.get("/ui/")
        assert page.status_code == 200 and "UCP dashboard" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert (await http.get("/ui")).status_code == 307
        assert (await http.get("/api/v1/dashboard/overview")).status_code == 401
        assert (await http.get("/ui/../metrics")).status_code in (401, 404)
        assert (await http.get("/ui/%2e%2e/%2e%2e/pyproject.toml")).status_code == 404
        data = await http.get("/api/v1/dashboard/overview", headers={"authorization": "Bearer k3y"})
        assert data.status_code == 200 and data.json()["nodes"][0]["id"] == "ucp"
    assert isinstance(http, httpx2.AsyncClient)


def test_cloud_savings_come_from_the_cloud_tools_structured_results() -> None:
    from ucp.observe.telemetry import CloudSavings

    savings = CloudSavings(keep=3)
    savings.observe(
        "rightsize_vm", {"recommended": "m5.large", "saving_usd_hr": 0.1, "saving_usd_month": 73.0}
    )
    savings.observe("plan_bin_packing", {"plan": [{"saving_usd_hr": 0.2}], "saving_usd_month": 146.0})
    savings.observe("forecast", {"points": [1, 2, 3]})  # no saving: not a recommendation
    got = savings.to_dict()
    assert [r["tool"] for r in got["recent"]] == ["plan_bin_packing", "rightsize_vm"]
    assert got["estimated_usd_month"] == 219.0
