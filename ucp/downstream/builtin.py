"""In-process downstream: serves ``BuiltinTool``s (e.g. the cloud tools) like any server.

The router and pool never special-case built-ins: this adapter implements the
same ``Transport``/``DownstreamSession`` seam as the MCP and UTCP adapters.
Arguments are validated with the tool's pydantic input model (an invalid field
becomes an ``is_error`` result naming it), the handler runs on a worker thread
(CPU-bound work never blocks the protocol loop), and ``ToolInputError`` becomes
an ``is_error`` result naming the field and the problem; any other exception in the
handler or in output validation becomes an ``is_error`` result with code ``tool_failed``
naming the tool and the cause (never a traceback or a misleading protocol error).

A thread cannot be stopped: on timeout the call is abandoned but its work runs on. With
``isolation="process"`` (a ``"module:attribute"`` target only) each call runs in an anyio
worker process instead, and a timeout kills that process, so the CPU is really freed;
idle workers are reused, the first call pays the import of the tools' code in the worker.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import mcp_types as types
from pydantic import BaseModel, ValidationError

from ucp.builtins.base import BuiltinServer, BuiltinTool, ToolInputError
from ucp.downstream.base import Capabilities, DownstreamEvents, ProgressFn, ToolsOnly
from ucp.errors import DownstreamTimeoutError
from ucp.log import get_logger, log_tracebacks

log = get_logger("ucp.downstream.builtin")


def _error_result(field: str, problem: str) -> types.CallToolResult:
    text = f"Invalid input: {field}: {problem}" if field else f"Invalid input: {problem}"
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        is_error=True,
        _meta={"ucp/error": {"code": "invalid_input", "field": field, "problem": problem}},
    )


def _failure_result(tool: str, stage: str, exc: BaseException) -> types.CallToolResult:
    """A handler or output bug as a structured tool error: names the tool and the cause, never a
    traceback (that goes to the log) and never a protocol error the client would misread."""
    cause = f"{type(exc).__name__}: {str(exc)[:300]}"
    log.warning("builtin_tool_failed", tool=tool, stage=stage, error=cause, exc_info=log_tracebacks())
    text = f"Built-in tool {tool} failed ({stage}): {cause}"
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        is_error=True,
        _meta={"ucp/error": {"code": "tool_failed", "tool": tool, "stage": stage, "cause": cause}},
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: a tool that produced one has a bug; fail loudly rather than lie."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("non-finite number in tool output")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def tool_definition(tool: BuiltinTool) -> types.Tool:
    annotations = types.ToolAnnotations(
        title=tool.title,
        read_only_hint=tool.annotations.read_only,
        destructive_hint=tool.annotations.destructive,
        idempotent_hint=tool.annotations.idempotent,
        open_world_hint=tool.annotations.open_world,
    )
    return types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.input_model.model_json_schema(),
        output_schema=tool.output_model.model_json_schema(mode="serialization"),
        annotations=annotations,
        _meta={"ucp/tags": list(tool.tags)} if tool.tags else None,
    )


def run_tool(tool: BuiltinTool, arguments: dict[str, Any]) -> types.CallToolResult:
    """Validate, run and package one call (synchronous; callers use a worker thread)."""
    try:
        model = tool.input_model.model_validate(arguments)
    except ValidationError as exc:
        first = exc.errors()[0]
        return _error_result(_field_path(tuple(first["loc"])), first["msg"])
    try:
        output = tool.handler(model)
    except ToolInputError as exc:
        return _error_result(exc.field, exc.problem)
    except Exception as exc:  # a bug or an overflow in the handler: a tool error, not a crash
        return _failure_result(tool.name, "handler", exc)
    try:
        if not isinstance(output, BaseModel):
            raise TypeError(f"returned {type(output).__name__}, not a pydantic model")
        structured = _finite(output.model_dump(mode="json"))
    except Exception as exc:
        return _failure_result(tool.name, "output validation", exc)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(structured, ensure_ascii=False, indent=1))],
        structured_content=structured,
    )


def run_tool_by_spec(spec: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """``run_tool`` for a worker process: import the server by spec, run, return a plain dict."""
    module, _, attr = spec.partition(":")
    server = getattr(importlib.import_module(module), attr)
    tool = next((t for t in server.tools if t.name == name), None)
    result = (
        _error_result("name", f"no built-in tool {name!r} on server {server.name!r}")
        if tool is None
        else run_tool(tool, arguments)
    )
    out: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out


class BuiltinSession(ToolsOnly):
    def __init__(self, transport: BuiltinTransport, listing: list[types.Tool] | None) -> None:
        self._transport = transport
        self._listing = listing
        self.capabilities = Capabilities(tools=True)
        self.closed = anyio.Event()
        self.server_info = f"ucp-builtin-{transport.name}"

    async def list_tools(self) -> list[types.Tool]:
        if self._listing is not None:
            return list(self._listing)
        server = await self._transport.load()
        return [tool_definition(t) for t in server.tools]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float, progress: ProgressFn | None = None
    ) -> types.CallToolResult:
        spec = self._transport.process_spec
        if spec is not None:
            try:
                with anyio.fail_after(timeout):  # cancelling kills the worker process: the work stops
                    raw = await anyio.to_process.run_sync(
                        run_tool_by_spec,
                        spec,
                        name,
                        arguments,
                        cancellable=True,
                        limiter=self._transport.limiter,
                    )
            except TimeoutError:
                raise DownstreamTimeoutError(
                    f"built-in tool {name} took longer than {timeout:g} s (its worker process was stopped)",
                    server=self._transport.name,
                ) from None
            return types.CallToolResult.model_validate(raw)
        server = await self._transport.load()
        tool = next((t for t in server.tools if t.name == name), None)
        if tool is None:
            return _error_result("name", f"no built-in tool {name!r} on server {server.name!r}")
        try:
            with anyio.fail_after(timeout):
                return await anyio.to_thread.run_sync(run_tool, tool, arguments, abandon_on_cancel=True)
        except TimeoutError:
            raise DownstreamTimeoutError(
                f"built-in tool {name} took longer than {timeout:g} s", server=server.name
            ) from None

    async def ping(self, *, timeout: float) -> None:
        return None


class BuiltinTransport:
    """Serves a ``BuiltinServer``, given directly or as ``"module:attribute"`` (imported on a
    worker thread when first needed). With a ``listing`` file (the generated tool definitions)
    the tools are listed without importing their code at all: that happens at the first call,
    which keeps the cold start short (importing is CPU-bound and would hold the GIL)."""

    def __init__(
        self,
        server: BuiltinServer | str,
        *,
        name: str | None = None,
        listing: Path | None = None,
        isolation: Literal["thread", "process"] = "thread",
        max_workers: int = 2,
    ) -> None:
        if isolation == "process" and not isinstance(server, str):
            raise ValueError("process isolation needs a 'module:attribute' spec the worker can import")
        self._target = server
        self.name = name or (server.name if isinstance(server, BuiltinServer) else server.rpartition(":")[0])
        self._listing_path = listing
        self._lock = anyio.Lock()
        self.process_spec = server if isolation == "process" and isinstance(server, str) else None
        self.limiter = anyio.CapacityLimiter(max_workers) if self.process_spec else None

    @property
    def kind(self) -> str:
        return "builtin"

    def _listing(self) -> list[types.Tool] | None:
        if self._listing_path is None or isinstance(self._target, BuiltinServer):
            return None
        try:
            raw = json.loads(self._listing_path.read_text(encoding="utf-8"))
            return [types.Tool.model_validate(t) for t in raw]
        except (OSError, ValueError) as exc:
            log.warning("builtin_listing_unreadable", path=str(self._listing_path), error=str(exc)[:200])
            return None

    async def load(self) -> BuiltinServer:
        async with self._lock:
            return await self._load()

    async def _load(self) -> BuiltinServer:
        if isinstance(self._target, BuiltinServer):
            return self._target
        module, _, attr = self._target.partition(":")

        def load() -> BuiltinServer:
            server = getattr(importlib.import_module(module), attr)
            if not isinstance(server, BuiltinServer):
                raise TypeError(f"{self._target} is not a BuiltinServer")
            return server

        self._target = await anyio.to_thread.run_sync(load)
        return self._target

    @asynccontextmanager
    async def connect(self, events: DownstreamEvents) -> AsyncIterator[BuiltinSession]:
        listing = self._listing()
        if listing is None:
            await self.load()  # (process isolation: only to list the tools; calls import in the worker)
        session = BuiltinSession(self, listing)
        try:
            yield session
        finally:
            session.closed.set()
