"""UtcpTransport: manuals from files (UTCP and OpenAPI), the cli protocol, name and result mapping,
SSRF screening of tool URLs, variables, reloads on change, error mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ucp.config.models import UtcpServer
from ucp.downstream.utcp import ManualSource, UtcpSession, UtcpTransport, _map_error, to_result, variable_key
from ucp.errors import (
    DownstreamError,
    DownstreamProtocolError,
    DownstreamUnavailableError,
    ManualError,
    UnsafeURLError,
)

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "manuals" / "examples"


class Events:
    def __init__(self) -> None:
        self.changed: list[str] = []

    def list_changed(self, kind: str) -> None:
        self.changed.append(kind)

    def resource_updated(self, uri: str) -> None:
        pass

    async def elicit(self, params: Any) -> Any:
        raise NotImplementedError


def cli_tool(
    name: str, command: str, *, description: str = "", props: dict[str, Any] | None = None, **template: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description or f"{name} tool",
        "tags": ["t"],
        "inputs": {"type": "object", "properties": props or {}},
        "tool_call_template": {
            "name": "m",
            "call_template_type": "cli",
            "commands": [{"command": command}],
            "inherit_env_vars": ["PATH"],
            **template,
        },
    }


def write_manual(path: Path, tools: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"utcp_version": "1.2.0", "manual_version": "1.0.0", "tools": tools}))
    return path


def transport(
    manual: str | Path,
    *,
    name: str = "files",
    allowed: tuple[str, ...] = ("cli",),
    env: dict[str, str] | None = None,
    **kw: Any,
) -> UtcpTransport:
    return UtcpTransport(
        UtcpServer(name=name, manual=str(manual), allowed_protocols=allowed, **kw),
        env=env or {},
        options={"allow_private": False, "allow_loopback": True, "max_bytes": 100_000},
    )


@pytest.mark.integration  # real process, socket or model
async def test_cli_manual_lists_and_calls() -> None:
    t = transport(EXAMPLES / "cli-tools.utcp.json", name="cli-tools", tags=("shell",))
    async with t.connect(Events()) as session:
        tools = {tool.name: tool for tool in await session.list_tools()}
        assert set(tools) == {"echo_text", "word_count", "utc_now"}
        echo = tools["echo_text"]
        assert echo.input_schema["required"] == ["text"]
        assert echo.meta is not None
        assert echo.meta["ucp/tags"][0] == "shell"  # server tags join the tool's own tags
        assert "echo" in echo.meta["ucp/tags"]
        result = await session.call_tool("echo_text", {"text": "hi; rm -rf /tmp/x"}, timeout=20)
        assert result.content[0].text == "hi; rm -rf /tmp/x"  # type: ignore[union-attr]  # an argument is never shell syntax
        count = await session.call_tool("word_count", {"text": "one two three"}, timeout=20)
        assert count.content[0].text.strip() == "3"  # type: ignore[union-attr]
        assert session.capabilities.tools and not session.capabilities.resources


async def test_cli_tools_need_to_be_allowed(tmp_path: Path) -> None:
    t = transport(EXAMPLES / "cli-tools.utcp.json", allowed=())
    async with t.connect(Events()) as session:
        assert await session.list_tools() == []


async def test_openapi_file_is_converted() -> None:
    t = transport(EXAMPLES / "unit-converter.openapi.json", name="units", allowed=())
    async with t.connect(Events()) as session:
        tools = {tool.name: tool for tool in await session.list_tools()}
    assert set(tools) == {"celsius_to_fahrenheit", "slugify"}
    assert tools["celsius_to_fahrenheit"].input_schema["properties"]["celsius"]["type"] == "number"
    # slugify's only input is its JSON body: listed unwrapped
    assert tools["slugify"].input_schema["required"] == ["text"]
    assert tools["celsius_to_fahrenheit"].output_schema is not None


@pytest.mark.integration  # real process, socket or model
async def test_names_are_sanitized_dollars_kept_bad_tools_skipped(tmp_path: Path) -> None:
    bad = {"name": "broken", "description": "no template", "inputs": {"type": "object"}}
    manual = write_manual(
        tmp_path / "m.json",
        [
            cli_tool("a.b", "echo dot", description="costs $5 or ${PRICE}"),
            cli_tool("a_b", "echo underscore"),
            bad,
        ],
    )
    async with transport(manual).connect(Events()) as session:
        tools = {tool.name: tool for tool in await session.list_tools()}
        assert set(tools) == {"a_b", "a_b_2"}
        assert tools["a_b"].description == "costs $5 or ${PRICE}"
        outputs = {(await session.call_tool(n, {}, timeout=20)).content[0].text for n in tools}  # type: ignore[union-attr]
        assert outputs == {"dot", "underscore"}


@pytest.mark.integration  # real process, socket or model
async def test_variables_are_namespaced_and_expanded(tmp_path: Path) -> None:
    manual = write_manual(tmp_path / "v.json", [cli_tool("greet", 'echo "${GREETING}"')])
    t = transport(
        manual, name="my_vars", variables={"GREETING": "${HELLO_ENV}"}, env={"HELLO_ENV": "bonjour"}
    )
    assert variable_key("my_vars", "GREETING") == "my__vars_GREETING"
    async with t.connect(Events()) as session:
        result = await session.call_tool("greet", {}, timeout=20)
    assert result.content[0].text == "bonjour"  # type: ignore[union-attr]


async def test_missing_variable_is_a_downstream_error(tmp_path: Path) -> None:
    manual = write_manual(tmp_path / "v.json", [cli_tool("greet", 'echo "${NOT_SET_ANYWHERE_UCP}"')])
    async with transport(manual).connect(Events()) as session:
        with pytest.raises(DownstreamError) as info:
            await session.call_tool("greet", {}, timeout=20)
    assert "variable" in info.value.message


def http_tool(name: str, url: str, body_only: bool = True) -> dict[str, Any]:
    inputs = (
        {
            "type": "object",
            "properties": {"body": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        }
        if body_only
        else {"type": "object", "properties": {"q": {"type": "string"}}}
    )
    return {
        "name": name,
        "description": name,
        "inputs": inputs,
        "tool_call_template": {
            "name": "m",
            "call_template_type": "http",
            "http_method": "POST",
            "url": url,
            "body_field": "body",
        },
    }


async def _screened(tools: list[dict[str, Any]], origin: str | None) -> list[str]:
    t = transport("unused.json", allowed=())
    session = UtcpSession(t, client=None, events=Events(), http=None)
    screened = await session._screen(
        ManualSource(manual={"utcp_version": "1.2.0", "tools": tools}, origin=origin, digest="")
    )
    return [tool["name"] for tool in screened["tools"]]


async def test_tool_urls_are_screened() -> None:
    tools = [
        http_tool("meta", "http://169.254.169.254/latest"),
        http_tool("private", "http://10.1.2.3/x"),
        http_tool("local", "http://127.0.0.1:9/x"),
        http_tool("templated", "https://{host}/x"),
        http_tool("plain", "http://93.184.215.14/x"),
    ]
    assert await _screened(tools, origin=None) == ["local", "templated"]
    # a manual fetched from elsewhere may not point tools at this machine
    assert await _screened(tools, origin="https://api.example.com/utcp") == ["templated"]
    assert await _screened(tools, origin="http://127.0.0.1:8000/utcp") == ["local", "templated"]


async def test_body_only_tools_are_unwrapped_on_the_call(tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    class FakeClient:
        async def call_tool(self, name: str, args: dict[str, Any]) -> Any:
            calls.append({"name": name, "args": args})
            return {"ok": True}

    t = transport("unused.json", name="svc", allowed=())
    session = UtcpSession(t, client=FakeClient(), events=Events(), http=None)
    from utcp.data.tool import ToolSerializer

    utcp_tools = [
        ToolSerializer().validate_dict({**http_tool("svc.wrapped", "http://127.0.0.1:9/w")}),
        ToolSerializer().validate_dict({**http_tool("svc.flat", "http://127.0.0.1:9/f", body_only=False)}),
    ]
    tools, session._targets = session._map(utcp_tools)
    schemas = {tool.name: tool.input_schema for tool in tools}
    assert schemas["wrapped"]["properties"] == {"x": {"type": "integer"}}
    assert schemas["flat"]["properties"] == {"q": {"type": "string"}}
    result = await session.call_tool("wrapped", {"x": 1}, timeout=5)
    await session.call_tool("flat", {"q": "z"}, timeout=5)
    assert calls == [
        {"name": "svc.wrapped", "args": {"body": {"x": 1}}},
        {"name": "svc.flat", "args": {"q": "z"}},
    ]
    assert result.structured_content == {"ok": True}


async def test_changed_file_is_reloaded_after_a_ping(tmp_path: Path) -> None:
    path = write_manual(tmp_path / "m.json", [cli_tool("one", "echo 1")])
    events = Events()
    async with transport(path).connect(events) as session:
        assert [t.name for t in await session.list_tools()] == ["one"]
        await session.ping(timeout=5)
        assert events.changed == []
        write_manual(path, [cli_tool("one", "echo 1"), cli_tool("two", "echo 2")])
        await session.ping(timeout=5)
        assert events.changed == ["tools"]
        assert [t.name for t in await session.list_tools()] == ["one", "two"]
        path.unlink()
        with pytest.raises(DownstreamUnavailableError):
            await session.ping(timeout=5)


async def test_unsafe_and_invalid_manuals_are_refused(tmp_path: Path) -> None:
    for manual, error, code in [
        ("http://169.254.169.254/utcp", UnsafeURLError, "unsafe_url"),
        ("file:///etc/passwd", UnsafeURLError, "unsafe_url"),
        (str(tmp_path / "missing.json"), ManualError, "manual_invalid"),
    ]:
        with pytest.raises(error) as info:
            async with transport(manual).connect(Events()):
                pass
        assert info.value.code == code
    (tmp_path / "old.json").write_text(json.dumps({"utcp_version": "0.1.0", "tools": []}))
    (tmp_path / "other.json").write_text(json.dumps({"hello": "world"}))
    (tmp_path / "list.json").write_text("[1, 2]")
    for name in ("old.json", "other.json", "list.json"):
        with pytest.raises(ManualError):
            async with transport(tmp_path / name).connect(Events()):
                pass


async def test_url_manual_is_loaded_through_the_safe_fetcher() -> None:
    manual = {
        "utcp_version": "1.2.0",
        "manual_version": "2",
        "tools": [http_tool("x", "http://127.0.0.1:9/x")],
    }

    async def serve(request: Request) -> JSONResponse:
        return JSONResponse(manual)

    app = Starlette(routes=[Route("/utcp", serve)])
    t = transport("http://127.0.0.1:9/utcp", allowed=())
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)) as client:
        source = await t.load(client)
    assert source.origin == "http://127.0.0.1:9/utcp"
    assert source.manual["manual_version"] == "2"
    assert not source.openapi


def test_results_are_mapped() -> None:
    structured = to_result({"a": 1}, "s", 1000)
    assert structured.structured_content == {"a": 1}
    assert json.loads(structured.content[0].text) == {"a": 1}  # type: ignore[union-attr]
    listed = to_result([1, 2], "s", 1000)
    assert listed.structured_content is None
    assert listed.content[0].text == "[1, 2]"  # type: ignore[union-attr]
    assert to_result("plain", "s", 1000).content == [types.TextContent(type="text", text="plain")]
    assert to_result(None, "s", 1000).content[0].text == ""  # type: ignore[union-attr]
    with pytest.raises(DownstreamProtocolError):
        to_result("x" * 2000, "s", 1000)


def test_errors_are_mapped() -> None:
    import aiohttp

    assert isinstance(
        _map_error(aiohttp.ClientConnectionError("refused"), "s", "t"), DownstreamUnavailableError
    )
    assert isinstance(_map_error(ConnectionRefusedError(), "s", "t"), DownstreamUnavailableError)
    generic = _map_error(ValueError("boom"), "s", "t")
    assert type(generic) is DownstreamError
    assert generic.details["server"] == "s"


async def test_cancelled_connect_closes_cleanly(tmp_path: Path) -> None:
    path = write_manual(tmp_path / "m.json", [cli_tool("one", "echo 1")])
    with anyio.move_on_after(5) as scope:
        async with transport(path).connect(Events()) as session:
            scope.cancel()
            await anyio.sleep(1)
    assert session.closed.is_set()


async def test_utcp_logs_are_redacted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    async with transport(EXAMPLES / "cli-tools.utcp.json").connect(Events()):
        pass
    with caplog.at_level(logging.ERROR):
        logging.getLogger("utcp_http.http_communication_protocol").error(
            "Error calling tool: url='https://api.example.com/x?api_key=SECRET1' header %s", "Bearer SECRET2"
        )
    message = caplog.records[-1].getMessage()
    assert "SECRET" not in message
    assert "https://api.example.com/x?***" in message


@pytest.mark.integration  # real process, socket or model
async def test_http_sse_streamable_and_text_templates(tmp_path: Path) -> None:
    from starlette.responses import StreamingResponse

    from tests.helpers import free_port
    from tests.pool.test_services import serve_app

    async def add(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"sum": body["a"] + body["b"]})

    async def events(request: Request) -> StreamingResponse:
        async def gen() -> Any:
            for i in range(3):
                yield f"data: {json.dumps({'n': i})}\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream")

    async def chunks(request: Request) -> StreamingResponse:
        async def gen() -> Any:
            for part in (b"hello ", b"chunked ", b"world"):
                yield part

        return StreamingResponse(gen(), media_type="application/octet-stream")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = Starlette(
        routes=[Route("/add", add, methods=["POST"]), Route("/events", events), Route("/chunks", chunks)]
    )
    manual = write_manual(
        tmp_path / "wire.json",
        [
            {
                "name": "add",
                "description": "add",
                "inputs": {
                    "type": "object",
                    "properties": {
                        "body": {
                            "type": "object",
                            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                        }
                    },
                },
                "tool_call_template": {
                    "name": "w",
                    "call_template_type": "http",
                    "http_method": "POST",
                    "url": f"{base}/add",
                    "body_field": "body",
                },
            },
            {
                "name": "events",
                "description": "sse",
                "inputs": {"type": "object", "properties": {}},
                "tool_call_template": {"name": "w", "call_template_type": "sse", "url": f"{base}/events"},
            },
            {
                "name": "chunks",
                "description": "chunked",
                "inputs": {"type": "object", "properties": {}},
                "tool_call_template": {
                    "name": "w",
                    "call_template_type": "streamable_http",
                    "url": f"{base}/chunks",
                },
            },
            {
                "name": "static",
                "description": "text",
                "inputs": {"type": "object", "properties": {}},
                "tool_call_template": {"name": "w", "call_template_type": "text", "content": "static answer"},
            },
        ],
    )
    async with serve_app(app, port), transport(manual, allowed=()).connect(Events()) as session:
        assert {t.name for t in await session.list_tools()} == {"add", "events", "chunks", "static"}
        assert (await session.call_tool("add", {"a": 2, "b": 3}, timeout=20)).structured_content == {"sum": 5}
        sse = await session.call_tool("events", {}, timeout=20)
        assert json.loads(sse.content[0].text) == [{"n": 0}, {"n": 1}, {"n": 2}]  # type: ignore[union-attr]
        streamed = await session.call_tool("chunks", {}, timeout=20)
        assert streamed.content[0].text == "hello chunked world"  # type: ignore[union-attr]
        static = await session.call_tool("static", {}, timeout=20)
        assert static.content[0].text == "static answer"  # type: ignore[union-attr]
