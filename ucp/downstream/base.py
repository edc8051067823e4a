"""The transport seam: what the pool needs from any downstream, whatever its wire.

An adapter (``mcp.py``, ``utcp.py``, ``builtin.py``) implements ``Transport``:
``connect(events)`` is an async context manager that yields a live
``DownstreamSession`` and closes it on exit. It is entered and exited in the one
task the pool runs per connection. Adapters translate foreign exceptions into
``ucp.errors`` at this boundary; the core never imports ``mcp.client`` or HTTP
code. MCP's data types (``mcp_types``: Tool, CallToolResult...) are the common
currency, since they are plain pydantic models.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anyio
import mcp_types as types

from ucp.errors import UnknownPromptError, UnknownResourceError

ListKind = Literal["tools", "resources", "prompts"]


class ProgressFn(Protocol):
    """Receives progress of a running call (relayed upstream)."""

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None: ...


class Elicitor(Protocol):
    """Asks the upstream user for input on behalf of a downstream (MCP elicitation)."""

    async def __call__(self, params: types.ElicitRequestParams) -> types.ElicitResult: ...


@dataclass(frozen=True)
class CallHooks:
    """What an upstream call lends the downstream call: progress relay and elicitation."""

    progress: ProgressFn | None = None
    elicit: Elicitor | None = None


@dataclass
class Capabilities:
    """What the downstream serves (lists are only fetched when served)."""

    tools: bool = True
    resources: bool = False
    prompts: bool = False
    completions: bool = False
    list_changed: bool = False
    subscribe: bool = False  # resources/subscribe is served (resources/updated follows)


class DownstreamEvents(Protocol):
    """Callbacks from a live connection into the pool (must not block)."""

    def list_changed(self, kind: ListKind) -> None: ...

    def resource_updated(self, uri: str) -> None: ...

    async def elicit(self, params: types.ElicitRequestParams) -> types.ElicitResult: ...


class DownstreamSession(Protocol):
    """A live connection. ``closed`` is set when the connection dropped."""

    capabilities: Capabilities
    closed: anyio.Event
    server_info: str

    async def list_tools(self) -> list[types.Tool]: ...

    async def list_resources(self) -> list[types.Resource]: ...

    async def list_resource_templates(self) -> list[types.ResourceTemplate]: ...

    async def list_prompts(self) -> list[types.Prompt]: ...

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float, progress: ProgressFn | None = None
    ) -> types.CallToolResult: ...

    async def read_resource(self, uri: str, *, timeout: float) -> types.ReadResourceResult: ...

    async def subscribe_resource(self, uri: str, *, timeout: float) -> None:
        """Ask for ``resources/updated`` of ``uri`` (only called when ``capabilities.subscribe``)."""
        ...

    async def unsubscribe_resource(self, uri: str, *, timeout: float) -> None: ...

    async def get_prompt(
        self, name: str, arguments: dict[str, str], *, timeout: float
    ) -> types.GetPromptResult: ...

    async def complete(
        self,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: dict[str, str],
        context_arguments: dict[str, str] | None,
        *,
        timeout: float,
    ) -> types.CompleteResult: ...

    async def ping(self, *, timeout: float) -> None:
        """A cheap liveness check; raises a ``DownstreamError`` when the server is gone."""
        ...


class ToolsOnly:
    """Defaults for downstreams that serve tools only (UTCP manuals, built-ins): no resources,
    no prompts, no completions. The directory never routes a resource or prompt to them."""

    async def list_resources(self) -> list[types.Resource]:
        return []

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return []

    async def list_prompts(self) -> list[types.Prompt]:
        return []

    async def read_resource(self, uri: str, *, timeout: float) -> types.ReadResourceResult:
        raise UnknownResourceError(f"this server has no resources ({uri!r})", uri=uri)

    async def subscribe_resource(self, uri: str, *, timeout: float) -> None:
        raise UnknownResourceError(f"this server has no resources ({uri!r})", uri=uri)

    async def unsubscribe_resource(self, uri: str, *, timeout: float) -> None:
        return None

    async def get_prompt(
        self, name: str, arguments: dict[str, str], *, timeout: float
    ) -> types.GetPromptResult:
        raise UnknownPromptError(f"this server has no prompts ({name!r})", prompt=name)

    async def complete(
        self,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: dict[str, str],
        context_arguments: dict[str, str] | None,
        *,
        timeout: float,
    ) -> types.CompleteResult:
        return types.CompleteResult(completion=types.Completion(values=[]))


class Transport(Protocol):
    """A way to open a connection to one downstream."""

    @property
    def kind(self) -> str: ...

    def connect(self, events: DownstreamEvents) -> AbstractAsyncContextManager[DownstreamSession]: ...
