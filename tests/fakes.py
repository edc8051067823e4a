"""In-memory downstreams for unit tests (implement the ucp.downstream.base seam)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types

from ucp.downstream.base import Capabilities, DownstreamEvents, ProgressFn
from ucp.errors import DownstreamUnavailableError


def tool(name: str, description: str = "", **props: str) -> types.Tool:
    return types.Tool(
        name=name,
        description=description or f"The {name} tool.",
        input_schema={
            "type": "object",
            "properties": {k: {"type": v} for k, v in props.items()},
            "required": list(props),
        },
    )


class FakeSession:
    def __init__(self, transport: FakeTransport) -> None:
        self.t = transport
        self.capabilities = Capabilities(
            tools=True,
            prompts=bool(transport.prompts),
            resources=bool(transport.resources),
            subscribe=bool(transport.resources),
        )
        self.closed = anyio.Event()
        self.server_info = "fake 1.0"

    async def list_tools(self) -> list[types.Tool]:
        self.t.list_calls += 1
        return list(self.t.tools)

    async def list_resources(self) -> list[types.Resource]:
        return list(self.t.resources)

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return []

    async def list_prompts(self) -> list[types.Prompt]:
        return list(self.t.prompts)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float, progress: ProgressFn | None = None
    ) -> types.CallToolResult:
        if self.closed.is_set():
            raise DownstreamUnavailableError("closed", server=self.t.name)
        self.t.calls.append((name, arguments))
        if self.t.gate is not None:
            await self.t.gate.wait()
        result = self.t.results.get(name)
        if result is not None:
            return result
        return types.CallToolResult(content=[types.TextContent(type="text", text=f"{name}:{arguments}")])

    async def read_resource(self, uri: str, *, timeout: float) -> types.ReadResourceResult:
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, text=f"content of {uri}")]
        )

    async def subscribe_resource(self, uri: str, *, timeout: float) -> None:
        self.t.subscribed.append(uri)

    async def unsubscribe_resource(self, uri: str, *, timeout: float) -> None:
        self.t.subscribed.remove(uri)

    async def get_prompt(
        self, name: str, arguments: dict[str, str], *, timeout: float
    ) -> types.GetPromptResult:
        raise NotImplementedError

    async def complete(
        self, ref: Any, argument: dict[str, str], context_arguments: dict[str, str] | None, *, timeout: float
    ) -> types.CompleteResult:
        return types.CompleteResult(completion=types.Completion(values=[]))

    async def ping(self, *, timeout: float) -> None:
        if self.t.ping_fails:
            raise DownstreamUnavailableError("ping failed", server=self.t.name)


class FakeTransport:
    """Connects instantly; ``fail_connects`` makes the next N connects fail; ``drop()`` closes the session."""

    def __init__(self, name: str = "fake", tools: list[types.Tool] | None = None) -> None:
        self.name = name
        self.tools = tools or [tool("echo", text="string")]
        self.prompts: list[types.Prompt] = []
        self.resources: list[types.Resource] = []
        self.subscribed: list[str] = []  # resource URIs the gateway subscribed to
        self.results: dict[str, types.CallToolResult] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_connects = 0
        self.connects = 0
        self.list_calls = 0
        self.ping_fails = False
        self.gate: anyio.Event | None = None
        self.connect_gate: anyio.Event | None = None  # connect() waits for it (a slow-starting server)
        self.session: FakeSession | None = None
        self.events: DownstreamEvents | None = None

    @property
    def kind(self) -> str:
        return "fake"

    def drop(self) -> None:
        if self.session is not None:
            self.session.closed.set()

    @asynccontextmanager
    async def connect(self, events: DownstreamEvents) -> AsyncIterator[FakeSession]:
        self.connects += 1
        if self.connect_gate is not None:
            await self.connect_gate.wait()
        if self.fail_connects > 0:
            self.fail_connects -= 1
            raise DownstreamUnavailableError("cannot connect (fake)", server=self.name)
        self.events = events
        self.session = FakeSession(self)
        try:
            yield self.session
        finally:
            self.session.closed.set()
