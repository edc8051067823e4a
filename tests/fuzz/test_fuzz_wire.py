"""The wire: stdio lines from a downstream, call arguments, REST bodies and MCP (JSON-RPC over
HTTP) bodies from clients. Nothing crashes, nothing answers 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes import FakeTransport, tool
from tests.fuzz.strategies import json_values
from ucp.downstream.stdio import LineReader, LineTooLong, _parse
from ucp.errors import InvalidArgumentsError
from ucp.pool.arguments import check_arguments


@given(st.lists(st.binary(max_size=200), max_size=8), st.integers(min_value=16, max_value=256))
def test_stdio_lines_are_parsed_or_reported(chunks: list[bytes], limit: int) -> None:
    reader = LineReader(limit)
    for chunk in chunks:
        for line in reader.feed(chunk):
            if isinstance(line, LineTooLong):
                continue
            assert len(line) <= limit
            _parse(line)  # a message or an exception value, never a raise


@given(json_values)
def test_call_arguments_are_accepted_or_refused_cleanly(value: Any) -> None:
    try:
        check_arguments({"x": value}, server="s", tool="t")
    except InvalidArgumentsError:
        return
    json.dumps({"x": value}).encode("utf-8")  # what passes can be written to any wire


class Http:
    """An in-process gateway (fake downstream) and a client on its HTTP app, driven from sync tests."""

    def __init__(self, portal: BlockingPortal, client: Any) -> None:
        self.portal = portal
        self.client = client

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> int:
        async def send() -> int:
            resp = await self.client.post(
                path, content=body, headers={"content-type": "application/json", **(headers or {})}
            )
            return int(resp.status_code)

        return self.portal.call(send)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    from tests.helpers import api_client
    from ucp.app import Gateway
    from ucp.config.models import Config
    from ucp.config.paths import Paths
    from ucp.pool.pool import ServerSpec

    home = tmp_path_factory.mktemp("fuzz") / "home"

    with start_blocking_portal("asyncio") as portal:
        gateway = Gateway(Config(builtins=False), Paths(Path(home)).ensure(), dense=False)
        with portal.wrap_async_context_manager(gateway):

            async def add() -> None:
                gateway.pool.add(ServerSpec("s", FakeTransport(tools=[tool("echo", text="string")])))
                await gateway.wait_ready(5)

            portal.call(add)
            with portal.wrap_async_context_manager(api_client(gateway)) as client:
                yield Http(portal, client)


def _body(value: Any) -> bytes:
    try:
        return json.dumps(value).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return b"{}"


rest_bodies = st.one_of(
    json_values.map(_body),
    st.fixed_dictionaries({"name": st.sampled_from(["s__echo", "nope", ""]), "arguments": json_values}).map(
        _body
    ),
    st.binary(max_size=200),
    st.sampled_from(
        [b"[" * 3000 + b"]" * 3000, b'{"name":"s__echo","arguments":{"text":"\\udfff"}}', b"1" * 6000]
    ),
)


@given(rest_bodies, st.sampled_from(["/api/v1/tools/call", "/api/v1/tools/search", "/api/v1/sessions"]))
def test_rest_bodies_never_give_a_5xx(http: Http, body: bytes, path: str) -> None:
    assert http.post(path, body) < 500


@given(st.one_of(st.binary(max_size=200), json_values.map(_body)))
def test_every_invalid_stdio_line_gets_a_json_rpc_error(line: bytes) -> None:
    import mcp_types as types

    from ucp.frontend.run import error_for_invalid

    try:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except Exception as exc:
        error = error_for_invalid(exc)
        assert error.error.code in (-32700, -32600)
        json.loads(error.model_dump_json(by_alias=True, exclude_unset=True))
