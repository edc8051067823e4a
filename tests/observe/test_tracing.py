"""Traces with the SDK's in-memory exporter: the span tree of a call, W3C context in and out, no secrets."""

from __future__ import annotations

from pathlib import Path

import mcp_types as types
import pytest
from mcp import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.fakes import FakeTransport, tool
from tests.helpers import api_client
from ucp.app import Gateway
from ucp.config.models import Config, TelemetrySettings
from ucp.config.paths import Paths
from ucp.frontend.server import build_mcp_server
from ucp.observe.telemetry import Telemetry
from ucp.observe.tracing import Tracing, enabled_by, inject, traceparent_of
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


def traced(tmp_path: Path, exporter: InMemorySpanExporter) -> Gateway:
    telemetry = Telemetry(TelemetrySettings(tracing=True), env={}, exporter=exporter, sync_export=True)
    return Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False, telemetry=telemetry)


async def test_rest_call_is_one_trace_under_the_callers_traceparent(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    async with traced(tmp_path, exporter) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", "Echo the text back", text="string")])))
        await gw.wait_ready(5)
        await gw.router.wait_synced()
        async with api_client(gw) as http:
            r = await http.get(
                "/api/v1/tools/search", params={"query": "echo"}, headers={"traceparent": TRACEPARENT}
            )
            assert r.status_code == 200
            r = await http.post(
                "/api/v1/tools/call",
                json={"name": "s__echo", "arguments": {"text": "password=hunter2"}},
                headers={"traceparent": TRACEPARENT, "x-request-id": "req-42"},
            )
            assert r.status_code == 200 and r.headers["x-request-id"] == "req-42"
    spans = {s.name: s for s in exporter.get_finished_spans()}
    server = spans["POST /api/v1/tools/call"]
    call = spans["tools/call s__echo"]
    down = spans["downstream s/echo"]
    rank = spans["ucp.rank"]
    assert {format(s.context.trace_id, "032x") for s in (server, call, down, rank)} == {CALLER_TRACE}
    assert server.parent is not None and format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert call.parent.span_id == server.context.span_id
    assert down.parent.span_id == call.context.span_id
    assert spans["GET /api/v1/tools/search"].context.span_id == rank.parent.span_id
    assert call.attributes["ucp.outcome"] == "ok"
    assert down.attributes["ucp.server"] == "s"
    assert server.attributes["http.response.status_code"] == 200
    everything = repr([dict(s.attributes or {}) for s in spans.values()])
    assert "hunter2" not in everything  # no arguments in span attributes by default


async def test_mcp_tools_call_takes_the_trace_from_meta(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    async with traced(tmp_path, exporter) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", text="string")])))
        await gw.wait_ready(5)
        async with Client(build_mcp_server(gw.api, telemetry=gw.telemetry), mode="legacy") as client:
            result = await client.session.send_request(
                types.CallToolRequest(
                    params=types.CallToolRequestParams(
                        name="s__echo", arguments={"text": "x"}, _meta={"traceparent": TRACEPARENT}
                    )
                ),
                types.CallToolResult,
            )
            assert not result.is_error
            await client.list_tools()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["MCP tools/list"].kind.name == "SERVER"  # every request, not only calls
    server = spans["MCP tools/call s__echo"]
    assert format(server.context.trace_id, "032x") == CALLER_TRACE
    assert spans["tools/call s__echo"].parent.span_id == server.context.span_id


async def test_a_failed_call_marks_its_spans(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    async with traced(tmp_path, exporter) as gw:
        transport = FakeTransport(tools=[tool("boom")])
        transport.results["boom"] = types.CallToolResult(content=[], is_error=True)
        gw.pool.add(ServerSpec("s", transport))
        await gw.wait_ready(5)
        session = gw.api.open(client_name="t")
        await gw.api.call(session, "s__boom", {})
    call = next(s for s in exporter.get_finished_spans() if s.name == "tools/call s__boom")
    assert call.status.status_code.name == "ERROR" and call.attributes["ucp.error_code"] == "tool_error"


def test_off_by_default_and_on_by_the_standard_variables() -> None:
    settings = TelemetrySettings()
    assert not enabled_by(settings, {})
    assert enabled_by(settings, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert enabled_by(settings, {"OTEL_TRACES_EXPORTER": "otlp"})
    assert not enabled_by(settings, {"OTEL_TRACES_EXPORTER": "none"})
    assert not enabled_by(TelemetrySettings(tracing=True), {"OTEL_SDK_DISABLED": "true"})
    off = Tracing(settings, {})
    with off.span("x") as span:
        assert not span.is_recording()
        assert inject({}) == {}  # nothing to propagate outside a trace


def test_downstream_requests_carry_the_traceparent_of_their_meta() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(TelemetrySettings(tracing=True), {}, exporter=exporter, sync_export=True)
    with tracing.span("outer") as span:
        carrier = inject({})
    trace_hex = format(span.get_span_context().trace_id, "032x")
    assert carrier["traceparent"].split("-")[1] == trace_hex
    body = types.CallToolRequestParams(name="t", arguments={}, _meta=carrier).model_dump_json(by_alias=True)
    assert traceparent_of(body.encode()) == carrier["traceparent"]
    assert traceparent_of(b'{"method":"tools/call"}') is None


async def test_arguments_only_when_opted_in_and_masked(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    settings = TelemetrySettings(tracing=True, record_arguments=True)
    telemetry = Telemetry(settings, env={}, exporter=exporter, sync_export=True)
    cfg = Config(builtins=False)
    async with Gateway(cfg, Paths(tmp_path).ensure(), dense=False, telemetry=telemetry) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("login", user="string", password="string")])))
        await gw.wait_ready(5)
        await gw.api.call(gw.api.open(), "s__login", {"user": "ada", "password": "hunter2"})
    call = next(s for s in exporter.get_finished_spans() if s.name == "tools/call s__login")
    recorded = str(call.attributes["ucp.arguments"])
    assert "ada" in recorded and "hunter2" not in recorded
