"""The pool, shared: every downstream server served as MCP on a unix socket, for UCP's workers.

With ``ucp serve --workers N`` the HTTP front, sessions, ranking and learning run in N worker
processes, while the downstream connections stay in one process (this one): a stateful stdio
server (a memory server, a database session) is spawned once and every worker sees the same
one. Each server gets its own socket (``downstream.factory.shared_socket``); a worker's connection to it is an
ordinary MCP session (stdio framing, one JSON-RPC message per line: ``downstream/stdio.py``),
so the worker's pool treats it as any other downstream (restarts, health, deadlines).

What the socket serves is the downstream as this pool sees it: its tools, resources and
prompts (the last-known lists while it connects), calls under its deadline and concurrency
limit, progress relayed, and ``list_changed`` when the downstream's lists change. A UCP error
raised here (unavailable, timeout, busy...) travels as JSON-RPC error data and is raised again,
same class and code, in the worker (``errors.error_from_dict``).
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions

import ucp
from ucp.downstream.base import CallHooks
from ucp.downstream.factory import shared_socket
from ucp.downstream.mcp import UCP_ERROR
from ucp.downstream.stdio import line_streams
from ucp.errors import UCPError
from ucp.events import Change, ChangeBus, ChangeKind
from ucp.log import get_logger
from ucp.pool.pool import Pool

log = get_logger("ucp.pool.share")

FIRST_LIST_WAIT = 10.0  # seconds a worker's first tools/list waits for a server still connecting


def _as_mcp(exc: UCPError) -> MCPError:
    return MCPError(exc.jsonrpc_code, exc.message, data={UCP_ERROR: exc.to_dict()})


class PoolShare:
    """Serves each server of ``pool`` on ``shared_socket(directory, name)`` until cancelled."""

    def __init__(self, pool: Pool, directory: Path, events: ChangeBus) -> None:
        self.pool = pool
        self.directory = directory
        self.events = events
        self._listening: dict[str, anyio.abc.Listener[Any]] = {}
        self._sessions: dict[str, set[Any]] = {}  # server -> live worker sessions (for list_changed)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # the sockets reach every downstream: owner only
        unsubscribe = self.events.subscribe(self._on_change)
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                for name in list(self.pool.specs):
                    await self._listen(tg, name)
                task_status.started()
                await anyio.sleep_forever()
        finally:
            unsubscribe()
            for listener in self._listening.values():
                with suppress(Exception):
                    await listener.aclose()

    async def _listen(self, tg: anyio.abc.TaskGroup, name: str) -> None:
        path = shared_socket(self.directory, name)
        path.unlink(missing_ok=True)
        listener = await anyio.create_unix_listener(path, mode=0o600)
        self._listening[name] = listener
        tg.start_soon(listener.serve, lambda stream: self._serve(name, stream))

    def _on_change(self, change: Change) -> None:
        tg = getattr(self, "_tg", None)
        if tg is None:
            return
        if change.server in self.pool.specs and change.server not in self._listening:
            tg.start_soon(self._listen, tg, change.server)  # a server added at run time
        kinds = change.kinds
        for session in list(self._sessions.get(change.server, ())):
            tg.start_soon(self._announce, session, kinds)

    async def _announce(self, session: Any, kinds: frozenset[ChangeKind]) -> None:
        with suppress(Exception):  # a worker that went away is dropped with its connection
            if ChangeKind.TOOLS in kinds or ChangeKind.STATE in kinds:
                await session.send_tool_list_changed()
            if ChangeKind.RESOURCES in kinds:
                await session.send_resource_list_changed()
            if ChangeKind.PROMPTS in kinds:
                await session.send_prompt_list_changed()

    async def _serve(self, name: str, stream: anyio.abc.ByteStream) -> None:
        mine: set[Any] = set()
        server = self.server_for(name, mine)
        try:
            async with line_streams(stream, max_line_bytes=self.pool.settings.max_message_bytes) as (r, w):
                await server.run(
                    r, w, server.create_initialization_options(NotificationOptions(True, True, True))
                )
        except Exception as exc:  # one worker's broken connection never ends the others
            log.info("pool_share_connection_closed", server=name, error=f"{type(exc).__name__}: {exc}"[:200])
        finally:
            self._sessions.get(name, set()).difference_update(mine)

    def server_for(self, name: str, mine: set[Any]) -> Server[Any]:
        """The MCP server one worker connection of ``name`` talks to (its session joins ``mine``)."""
        pool = self.pool
        sessions = self._sessions.setdefault(name, set())

        def seen(ctx: ServerRequestContext[Any]) -> None:
            sessions.add(ctx.session)
            mine.add(ctx.session)

        async def list_tools(
            ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
        ) -> types.ListToolsResult:
            seen(ctx)
            conn = pool.get(name)
            if conn.state == "starting":  # a worker's first listing: the server's own, once it answered
                with anyio.move_on_after(FIRST_LIST_WAIT):
                    await conn.first_attempt_done.wait()
            return types.ListToolsResult(tools=list(conn.snapshot.tools))

        async def call_tool(
            ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
        ) -> types.CallToolResult:
            async def relay(progress: float, total: float | None, message: str | None) -> None:
                await ctx.session.report_progress(progress, total, message)

            meta: dict[str, Any] = dict(ctx.meta or {})
            wants_progress = meta.get("progress_token", meta.get("progressToken")) is not None
            hooks = CallHooks(progress=relay) if wants_progress else None
            try:
                return await pool.get(name).call_tool(params.name, dict(params.arguments or {}), hooks=hooks)
            except UCPError as exc:
                raise _as_mcp(exc) from None

        async def list_resources(
            ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
        ) -> types.ListResourcesResult:
            seen(ctx)
            return types.ListResourcesResult(resources=list(pool.get(name).snapshot.resources))

        async def list_templates(
            ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
        ) -> types.ListResourceTemplatesResult:
            return types.ListResourceTemplatesResult(
                resource_templates=list(pool.get(name).snapshot.templates)
            )

        async def read_resource(
            ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
        ) -> types.ReadResourceResult:
            try:
                return await pool.read_resource(name, str(params.uri))
            except UCPError as exc:
                raise _as_mcp(exc) from None

        async def list_prompts(
            ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
        ) -> types.ListPromptsResult:
            seen(ctx)
            return types.ListPromptsResult(prompts=list(pool.get(name).snapshot.prompts))

        async def get_prompt(
            ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
        ) -> types.GetPromptResult:
            try:
                return await pool.get_prompt(name, params.name, dict(params.arguments or {}))
            except UCPError as exc:
                raise _as_mcp(exc) from None

        async def complete(
            ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
        ) -> types.CompleteResult:
            context_args = params.context.arguments if params.context else None
            try:
                return await pool.complete(
                    name, params.ref, {params.argument.name: params.argument.value}, context_args
                )
            except UCPError as exc:
                raise _as_mcp(exc) from None

        return Server(
            f"ucp-pool/{name}",
            version=ucp.__version__,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
            on_list_resources=list_resources,
            on_list_resource_templates=list_templates,
            on_read_resource=read_resource,
            on_list_prompts=list_prompts,
            on_get_prompt=get_prompt,
            on_completion=complete,
        )
