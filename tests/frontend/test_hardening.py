"""Issue 12 items 9 and 10 at the fronts: Host checks on every route, bounded JSON bodies,
body deadlines, JSON-RPC errors for invalid stdio lines, and a slowloris (integration)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.shared.message import SessionMessage

from tests.fakes import FakeTransport, tool
from tests.helpers import api_client
from ucp.app import Gateway
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.frontend.hostcheck import host_is_loopback
from ucp.frontend.limits import BodyLimit
from ucp.frontend.run import answer_invalid
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(tmp_path: Any) -> AsyncIterator[httpx2.AsyncClient]:
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        gw.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", text="string")])))
        await gw.wait_ready(5)
        async with api_client(gw) as client:
            yield client


@pytest.mark.parametrize("path", ["/healthz", "/utcp", "/api/v1/tools"])
async def test_a_foreign_host_is_refused_on_every_route(http: httpx2.AsyncClient, path: str) -> None:
    assert (await http.get(path)).status_code == 200
    resp = await http.get(path, headers={"host": "evil.example:8765"})
    assert resp.status_code == 421  # before: /healthz answered, /utcp wrote evil.example into its URLs
    assert "evil.example" not in resp.text


def test_loopback_host_spellings() -> None:
    for ok in ("127.0.0.1:8765", "localhost", "[::1]:9", "LOCALHOST.:1", "127.1.2.3"):
        assert host_is_loopback(ok), ok
    for bad in ("evil.example", "127.0.0.1.evil.example", "[::2]:1", "10.0.0.1", ""):
        assert not host_is_loopback(bad), bad


@pytest.mark.parametrize(
    "body", [b"[" * 5000 + b"]" * 5000, b'{"name": "s__echo", "arguments": {"n": ' + b"9" * 5000 + b"}}"]
)
async def test_nested_or_huge_json_bodies_are_400_not_500(http: httpx2.AsyncClient, body: bytes) -> None:
    resp = await http.post("/api/v1/tools/call", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_json"


async def test_a_lone_surrogate_over_rest_is_refused_and_the_server_stays_up(
    http: httpx2.AsyncClient,
) -> None:
    body = b'{"name": "s__echo", "arguments": {"text": "\\udfff"}}'
    resp = await http.post("/api/v1/tools/call", content=body, headers={"content-type": "application/json"})
    assert resp.status_code in (400, 422)
    ok = await http.post("/api/v1/tools/call", json={"name": "s__echo", "arguments": {"text": "hi"}})
    assert ok.status_code == 200


async def test_a_body_that_never_arrives_is_a_408() -> None:
    sent: list[MutableMapping[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    async def receive() -> dict[str, Any]:
        await anyio.sleep(3600)
        return {}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    started = time.perf_counter()
    await BodyLimit(app, max_bytes=1000, body_timeout=0.2)({"type": "http", "headers": []}, receive, send)
    assert time.perf_counter() - started < 2
    assert sent[0]["status"] == 408


async def test_invalid_stdio_lines_get_json_rpc_errors() -> None:
    read_send, read = anyio.create_memory_object_stream[Any](10)
    write, written = anyio.create_memory_object_stream[Any](10)
    out, forwarded = anyio.create_memory_object_stream[Any](10)
    for line in (
        b"{not json",
        b'{"jsonrpc": "2.0", "id": 7, "method": 5}',
        b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
    ):
        try:
            await read_send.send(
                SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
            )
        except Exception as exc:
            await read_send.send(exc)
    read_send.close()
    await answer_invalid(read, write, out)
    errors = [written.receive_nowait().message for _ in range(2)]
    assert [(e.id, e.error.code) for e in errors] == [(None, -32700), (7, -32600)]
    assert forwarded.receive_nowait().message.method == "ping"  # the valid one went through
    for stream in (read, write, written, forwarded):
        stream.close()


@pytest.mark.integration
async def test_a_slowloris_is_cut_off_by_the_header_timeout(tmp_path: Any) -> None:
    from tests.helpers import free_port
    from ucp.frontend.http import Fronts, build_http_app
    from ucp.frontend.run import http_server

    port = free_port()
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        fronts = Fronts(api=gw.api, admin=gw.admin, http=gw.config.http, env=gw.env)
        async with anyio.create_task_group() as tg:
            server = http_server(build_http_app(fronts), "127.0.0.1", port, header_timeout=0.5)
            tg.start_soon(server.serve)
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    await anyio.sleep(0.05)

            def slowloris() -> float:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    started = time.perf_counter()
                    try:
                        while sock.recv(1024):
                            pass
                    except OSError:
                        pass
                    return time.perf_counter() - started

            closed_after = await anyio.to_thread.run_sync(slowloris)
            assert closed_after < 5  # before: held open indefinitely
            async with httpx2.AsyncClient() as client:  # a normal request still works
                assert (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            server.should_exit = True
    json.dumps({})


async def test_a_call_racing_the_removal_of_its_server_is_not_a_500(tmp_path: Any) -> None:
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        transport = FakeTransport(tools=[tool("echo", text="string")])
        transport.gate = anyio.Event()
        gw.pool.add(ServerSpec("s", transport, timeout=1))
        await gw.wait_ready(5)
        async with api_client(gw) as client:
            statuses: list[int] = []

            async def call() -> None:
                resp = await client.post(
                    "/api/v1/tools/call", json={"name": "s__echo", "arguments": {"text": "x"}}
                )
                statuses.append(resp.status_code)

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await anyio.sleep(0.1)
                await gw.pool.remove("s")
            transport.gate.set()
        assert statuses and statuses[0] != 500 and statuses[0] in (200, 404, 502, 503, 504), statuses
