"""Issue 12 below the pool: bounded manuals, SSRF at call time, bounded stdio lines, no secrets
in spawn errors. In memory, except where marked."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.downstream.test_utcp import Events, http_tool, write_manual
from tests.test_safeparse import BILLION_LAUGHS
from ucp.config.models import StdioServer, UtcpServer
from ucp.downstream.mcp import McpTransport
from ucp.downstream.stdio import LineReader, LineTooLong, _too_long_reply
from ucp.downstream.utcp import UtcpTransport, _literal_origin, expand_url
from ucp.errors import DownstreamUnavailableError, ManualError, UnsafeURLError

pytestmark = pytest.mark.anyio


def utcp(manual: Path, *, allow_loopback: bool = True) -> UtcpTransport:
    return UtcpTransport(
        UtcpServer(name="m", manual=str(manual)),
        env={},
        options={"allow_private": False, "allow_loopback": allow_loopback, "max_bytes": 100_000},
    )


async def test_a_billion_laughs_manual_is_refused_quickly(tmp_path: Path) -> None:
    manual = tmp_path / "bomb.yaml"
    manual.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS.encode()) < 600
    started = time.perf_counter()
    with pytest.raises(ManualError) as info:
        await utcp(manual).load()
    assert info.value.details["reason"] == "too_many_nodes"
    assert time.perf_counter() - started < 2.0  # before: 6.9 s of frozen event loop and +456 MB


def test_templated_urls_are_expanded_as_utcp_http_does() -> None:
    class T:
        url = "http://127.0.0.1:{port}/x/{id}"
        header_fields = ["h"]
        body_field = "body"

    assert expand_url(T(), {"port": 9, "id": "a", "h": "v", "body": {}}) == "http://127.0.0.1:9/x/a"
    assert expand_url(T(), {"id": "a"}) is None
    assert _literal_origin("http://127.0.0.1:{port}/x") == "http://127.0.0.1/"
    assert _literal_origin("https://{host}/x") is None
    assert _literal_origin("http://[::1]:{p}/") == "http://[::1]/"


async def test_a_port_placeholder_does_not_skip_the_registration_check(tmp_path: Path) -> None:
    manual = write_manual(tmp_path / "m.json", [http_tool("loop", "http://127.0.0.1:{port}/x")])
    async with utcp(manual, allow_loopback=False).connect(Events()) as session:
        assert await session.list_tools() == []  # refused at registration: the host is literal


async def test_a_host_placeholder_is_checked_at_call_time(tmp_path: Path) -> None:
    tool = http_tool("anyhost", "http://{host}:{port}/x")
    tool["inputs"] = {
        "type": "object",
        "properties": {"host": {"type": "string"}, "port": {"type": "integer"}},
    }
    manual = write_manual(tmp_path / "m.json", [tool])
    async with utcp(manual, allow_loopback=False).connect(Events()) as session:
        assert [t.name for t in await session.list_tools()] == ["anyhost"]
        for host in ("127.0.0.1", "169.254.169.254", "[::ffff:127.0.0.1]", "metadata.google.internal"):
            with pytest.raises(UnsafeURLError):
                await session.call_tool("anyhost", {"host": host, "port": 9}, timeout=5)


def test_line_reader_is_linear_and_drops_over_long_lines() -> None:
    reader = LineReader(limit=100)
    assert reader.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert reader.feed(b":2}\n") == [b'{"b":2}']
    out = reader.feed(b'{"jsonrpc":"2.0","id":7,"result":' + b"x" * 500)
    assert out == [] and reader.dropping
    out = reader.feed(b"y" * 10_000 + b'\n{"c":3}\n')
    assert isinstance(out[0], LineTooLong) and out[1] == b'{"c":3}'
    reply = _too_long_reply(out[0].args[0], 100)
    assert reply is not None and reply.message.id == 7  # type: ignore[union-attr]
    started = time.perf_counter()
    big = LineReader(limit=64 * 1024 * 1024)
    chunk = b"z" * 65536
    for _ in range(800):  # a 50 MB line in 64 KB chunks: linear, not quadratic
        big.feed(chunk)
    assert big.feed(b"\n") == [b"z" * 65536 * 800]
    assert time.perf_counter() - started < 2.0


async def test_a_spawn_error_names_no_secret(tmp_path: Path) -> None:
    server = StdioServer(name="leaky", command="${TOOL_DIR}/missing-binary", args=("--token", "${API_TOKEN}"))
    env = {
        "TOOL_DIR": str(tmp_path / "sk-live-dir-SECRET42"),
        "API_TOKEN": "sk-live-SECRET42",
        "PATH": "/usr/bin",
    }
    transport = McpTransport(server, env=env)

    with pytest.raises(DownstreamUnavailableError) as info:
        async with transport.connect(Events()):  # type: ignore[arg-type]
            pass
    message = str(info.value)
    assert "SECRET42" not in message
    assert "leaky" in message


def test_utcp_json_manual_with_deep_nesting_is_a_manual_error(tmp_path: Path) -> None:
    from ucp.downstream.utcp import _parse

    with pytest.raises(ManualError):
        _parse(b"[" * 100_000 + b"]" * 100_000, ".json", "deep.json")
    with pytest.raises(ManualError):
        _parse(json.dumps({"a": "1" * 10}).encode()[:-1], ".json", "cut.json")


def _unused(*_: Any) -> None:
    pass
