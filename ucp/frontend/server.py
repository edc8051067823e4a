"""① The MCP server UCP exposes: a low-level SDK ``Server`` whose handlers delegate.

Handlers are thin: find the session (``sessions.py``) and ask ``SessionAPI`` —
the tool list and calls (the session's exposure mode decides), resources,
prompts, completions, resource subscriptions — and map UCP errors to MCP in
``errors.py`` (downstream failures were already turned into ``is_error`` results
by the call path). Change notifications come from ``notify.py``, started with
the server's lifespan. ``listChanged: true`` is always advertised (Claude Code
drops list_changed from servers that do not), and ``subscriptions/listen`` is
served for 2026-era clients.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import ListenHandler
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

import ucp
from ucp.frontend.errors import as_mcp_errors
from ucp.frontend.mcp_tracing import McpTracing
from ucp.frontend.notify import Notifier
from ucp.frontend.sessions import SessionSync, session_for
from ucp.log import get_logger
from ucp.observe.telemetry import Telemetry
from ucp.session.api import CallHooks, Session, SessionAPI
from ucp.session.snapshot import SessionStore

log = get_logger("ucp.frontend")

INSTRUCTIONS = (
    "UCP is a gateway to many tool servers. If the tool you need is not listed, call "
    "ucp__search_tools with a plain-words description of the task, then ucp__call_tool with the "
    "name it returns. Tool names are <server>__<tool>."
)


class GatewayServer(Server[Any]):
    """Always advertise listChanged (the SDK defaults it to False; the HTTP session manager
    calls ``create_initialization_options()`` with no arguments)."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options
            or NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True),
            experimental_capabilities,
            extensions,
        )


def _hooks(ctx: ServerRequestContext[Any]) -> CallHooks:
    """Progress relay and elicitation forwarding for one upstream call."""

    async def relay(progress: float, total: float | None, message: str | None) -> None:
        await ctx.session.report_progress(progress, total, message)

    async def elicit(params: types.ElicitRequestParams) -> types.ElicitResult:
        caps = ctx.session.client_capabilities
        if caps is None or caps.elicitation is None or ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return types.ElicitResult(action="decline")
        try:
            if isinstance(params, types.ElicitRequestFormParams):
                return await ctx.session.elicit_form(
                    params.message, params.requested_schema, related_request_id=ctx.request_id
                )
            return await ctx.session.elicit_url(
                params.message, params.url, params.elicitation_id or "", related_request_id=ctx.request_id
            )
        except MCPError as exc:
            log.info("elicitation_failed", error=exc.message)
            return types.ElicitResult(action="cancel")

    return CallHooks(progress=relay, elicit=elicit)


def build_mcp_server(
    api: SessionAPI,
    *,
    telemetry: Telemetry | None = None,
    store: SessionStore | None = None,
    notifier: Notifier | None = None,
) -> GatewayServer:
    """The MCP server over ``api``; serve it over stdio, HTTP or an in-memory client. ``telemetry``
    opens a server span per request (a child of the caller's ``traceparent``; ``mcp_tracing.py``).
    ``store``: the shared session store of a replica (handshake-era HTTP sessions live there);
    ``notifier``: one that also hears other replicas' changes (``ucp.frontend.fanout``)."""
    notifier = notifier if notifier is not None else Notifier(api.events)
    tel = telemetry if telemetry is not None else Telemetry.off()

    async def session_for_ctx(ctx: ServerRequestContext[Any]) -> Session:
        return await session_for(api, ctx, store)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        session = await session_for_ctx(ctx)
        return types.ListToolsResult(tools=api.list_tools(session))

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        session = await session_for_ctx(ctx)
        with as_mcp_errors():
            return await api.call_tool(session, params.name, dict(params.arguments or {}), _hooks(ctx))

    async def list_resources(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        await session_for_ctx(ctx)
        return types.ListResourcesResult(resources=api.list_resources())

    async def list_templates(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        await session_for_ctx(ctx)
        return types.ListResourceTemplatesResult(resource_templates=api.list_resource_templates())

    async def read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        await session_for_ctx(ctx)
        with as_mcp_errors():
            return await api.read_resource(str(params.uri))

    async def subscribe(
        ctx: ServerRequestContext[Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        session = await session_for_ctx(ctx)
        with as_mcp_errors():
            await api.subscribe_resource(session, str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        session = await session_for_ctx(ctx)
        with as_mcp_errors():
            await api.unsubscribe_resource(session, str(params.uri))
        return types.EmptyResult()

    async def list_prompts(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        await session_for_ctx(ctx)
        return types.ListPromptsResult(prompts=api.list_prompts())

    async def get_prompt(
        ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        await session_for_ctx(ctx)
        with as_mcp_errors():
            return await api.get_prompt(params.name, dict(params.arguments or {}))

    async def complete(
        ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        context_args = params.context.arguments if params.context else None
        return await api.complete(params.ref, {params.argument.name: params.argument.value}, context_args)

    server = GatewayServer(
        "ucp",
        version=ucp.__version__,
        title="UCP",
        description="One MCP endpoint in front of every tool you use.",
        instructions=INSTRUCTIONS,
        lifespan=notifier.lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_subscriptions_listen=ListenHandler(notifier.bus),
    )
    server.middleware = [McpTracing(tel)]  # UCP's tracer instead of the SDK's global-provider one
    if store is not None:
        server.middleware.append(
            SessionSync(api, store)
        )  # inner: the snapshot is written before the span ends
    return server
