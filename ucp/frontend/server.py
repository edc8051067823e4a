"""① The MCP server UCP exposes: a low-level SDK ``Server`` whose handlers delegate.

Handlers are thin: find the session (``sessions.py``), ask its exposure strategy
for the tool list or the call, forward resources and prompts through the
directory, and map UCP errors to MCP (request errors -> JSON-RPC errors with a
stable ``data.code``; downstream failures were already turned into ``is_error``
results by the call path). ``listChanged: true`` is always advertised (Claude
Code drops list_changed from servers that do not), and ``subscriptions/listen``
is served for 2026-era clients.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ResourcesListChanged,
    ToolsListChanged,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

import ucp
from ucp.app import Gateway
from ucp.downstream.base import CallHooks
from ucp.errors import DownstreamError, UCPError, UnknownPromptError, UnknownResourceError
from ucp.frontend.sessions import session_for
from ucp.log import get_logger

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


def to_mcp_error(exc: UCPError) -> MCPError:
    data = {"code": exc.code, **{k: v for k, v in exc.details.items() if v is not None}}
    return MCPError(exc.jsonrpc_code, exc.message, data)


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


def build_server(gateway: Gateway) -> GatewayServer:
    bus = InMemorySubscriptionBus()

    async def publish_all() -> None:
        await bus.publish(ToolsListChanged())
        await bus.publish(PromptsListChanged())
        await bus.publish(ResourcesListChanged())

    gateway.sessions.global_notifiers.append(publish_all)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        session = await session_for(gateway, ctx)
        tools = gateway.exposure(session.mode).list_tools(session)
        session.listed_version = gateway.catalog.version
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        session = await session_for(gateway, ctx)
        try:
            return await gateway.exposure(session.mode).call_tool(
                session, params.name, dict(params.arguments or {}), _hooks(ctx)
            )
        except UCPError as exc:
            raise to_mcp_error(exc) from None

    async def list_resources(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        await session_for(gateway, ctx)
        return types.ListResourcesResult(resources=gateway.directory.list_resources())

    async def list_templates(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        await session_for(gateway, ctx)
        return types.ListResourceTemplatesResult(resource_templates=gateway.directory.list_templates())

    async def read_resource(
        ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        await session_for(gateway, ctx)
        uri = str(params.uri)
        target = gateway.directory.resolve_resource(uri)
        if target is None:
            raise to_mcp_error(UnknownResourceError(f"no server publishes the resource {uri!r}", uri=uri))
        server, own_uri = target
        try:
            result = await gateway.pool.read_resource(server, own_uri)
        except DownstreamError as exc:
            raise to_mcp_error(exc) from None
        if own_uri != uri:
            result = result.model_copy(
                update={"contents": [c.model_copy(update={"uri": uri}) for c in result.contents]}
            )
        return result

    async def list_prompts(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        await session_for(gateway, ctx)
        return types.ListPromptsResult(prompts=gateway.directory.list_prompts())

    async def get_prompt(
        ctx: ServerRequestContext[Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        await session_for(gateway, ctx)
        target = gateway.directory.resolve_prompt(params.name)
        if target is None:
            raise to_mcp_error(UnknownPromptError(f"unknown prompt {params.name!r}", prompt=params.name))
        server, name = target
        try:
            return await gateway.pool.get_prompt(server, name, dict(params.arguments or {}))
        except DownstreamError as exc:
            raise to_mcp_error(exc) from None

    async def complete(
        ctx: ServerRequestContext[Any], params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        ref = params.ref
        server: str | None = None
        if isinstance(ref, types.PromptReference):
            target = gateway.directory.resolve_prompt(ref.name)
            if target:
                server, own = target
                ref = ref.model_copy(update={"name": own})
        else:
            server = gateway.directory.server_of_template(ref.uri)
        empty = types.CompleteResult(completion=types.Completion(values=[]))
        if server is None:
            return empty
        context_args = params.context.arguments if params.context else None
        try:
            return await gateway.pool.complete(
                server, ref, {params.argument.name: params.argument.value}, context_args
            )
        except DownstreamError:
            return empty

    return GatewayServer(
        "ucp",
        version=ucp.__version__,
        title="UCP",
        description="One MCP endpoint in front of every tool you use.",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_subscriptions_listen=ListenHandler(bus),
    )
