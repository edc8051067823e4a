"""Traces over OTLP/HTTP to a local receiver, and the trace context carried to real downstreams
(``_meta`` over stdio; ``_meta`` and the ``traceparent`` header over streamable HTTP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.helpers import PY, SERVERS, api_client, background, free_port, running_gateway
from ucp.config.models import HttpServer, ServerConfig, StdioServer, TelemetrySettings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"


class Receiver:
    """A tiny OTLP/HTTP trace receiver on loopback: keeps every exported span."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []  # (service, span name, trace id)
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.paths.append(self.path)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for rs in request.resource_spans:
                    service = next(
                        (a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), ""
                    )
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            receiver.spans.append((service, span.name, span.trace_id.hex()))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/traces"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


async def test_spans_reach_an_otlp_receiver_and_downstreams_get_the_trace(
    tmp_path: Path, receiver: Receiver
) -> None:
    port = free_port()
    trace_server = str(SERVERS / "trace_server.py")
    telemetry = TelemetrySettings(tracing=True, otlp_endpoint=receiver.url, service_name="ucp-test")
    with background([PY, trace_server, "http", str(port)], port=port):
        servers: list[ServerConfig] = [
            StdioServer(name="tstdio", command=PY, args=(trace_server,)),
            HttpServer(name="thttp", url=f"http://127.0.0.1:{port}/mcp"),
        ]
        async with (
            running_gateway(servers, tmp_path / "home", telemetry=telemetry) as gw,
            api_client(gw) as http,
        ):
            seen = {}
            for name in ("tstdio", "thttp"):
                r = await http.post(
                    "/api/v1/tools/call",
                    json={"name": f"{name}__trace_context", "arguments": {}},
                    headers={"traceparent": TRACEPARENT},
                )
                assert r.status_code == 200, r.text
                assert not r.json()["is_error"], r.text
                seen[name] = json.loads(r.json()["content"][0]["text"])
    # the downstream was called from the "downstream" span of the caller's trace
    for name in ("tstdio", "thttp"):
        assert seen[name]["meta"].split("-")[1] == CALLER_TRACE, seen
    assert seen["thttp"]["header"] == seen["thttp"]["meta"]  # the HTTP request carries it as a header too
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    names = {(service, name) for service, name, trace in receiver.spans if trace == CALLER_TRACE}
    assert ("ucp-test", "POST /api/v1/tools/call") in names
    assert ("ucp-test", "tools/call thttp__trace_context") in names
    assert ("ucp-test", "downstream thttp/trace_context") in names
