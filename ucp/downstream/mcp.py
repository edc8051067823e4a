"""MCP downstreams over stdio, streamable HTTP and SSE, through the SDK client.

Choices, and why:
- ``mode="legacy"`` for every downstream: all servers accept ``initialize``, and
  list_changed then always arrives through ``message_handler``.
- The transport is wrapped (``_guarded``): raw results are repaired before the
  strict SDK client validates them (one bad tool schema must not hide the others),
  and the end of the read stream sets ``closed`` so the pool restarts the server.
- Calls go through ``session.send_request`` (not ``Client.call_tool``), which skips
  the client's output-schema check: a result that does not match its declared
  schema is passed through (the pool logs it), never turned into a crash.
- Response caching is off (``cache=None``): a gateway must always see fresh lists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED, METHOD_NOT_FOUND, REQUEST_TIMEOUT

import ucp
from ucp.config.loader import expand_env
from ucp.config.models import HttpServer, SseServer, StdioServer, UtcpServer
from ucp.downstream.base import Capabilities, DownstreamEvents, ProgressFn
from ucp.downstream.prespawn import Prespawned, SpawnError, spawn
from ucp.downstream.repair import repair_result
from ucp.downstream.stdio import DEFAULT_MAX_LINE, adopted_stdio
from ucp.errors import (
    DownstreamError,
    DownstreamProtocolError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
    UCPError,
    error_from_dict,
)
from ucp.log import get_logger, mask_secrets
from ucp.observe.tracing import inject, traceparent_of

log = get_logger("ucp.downstream.mcp")

_PAGE_CAP = 1000  # a paginator that never ends cannot hang a refresh

McpServerConfig = StdioServer | HttpServer | SseServer

UCP_ERROR = "ucp/error"  # JSON-RPC error data key: a UCP error's ``to_dict()`` (see ``pool/share.py``)


@asynccontextmanager
async def _guarded(
    inner: AbstractAsyncContextManager[Any], closed: anyio.Event, server: str
) -> AsyncIterator[tuple[Any, Any]]:
    """Wrap a transport: repair raw results; set ``closed`` when the read side ends."""

    def warn(event: str, **kw: Any) -> None:
        log.warning(event, server=server, **kw)

    async with inner as (read, write):
        send, recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            try:
                async with send:
                    async for item in read:
                        if isinstance(item, SessionMessage) and isinstance(
                            item.message, types.JSONRPCResponse
                        ):
                            result = item.message.result
                            fixed = repair_result(result, warn)
                            if fixed is not result:
                                item = SessionMessage(
                                    types.JSONRPCResponse(jsonrpc="2.0", id=item.message.id, result=fixed),
                                    item.metadata,
                                )
                        await send.send(item)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
                pass
            finally:
                closed.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                yield recv, write
            finally:
                tg.cancel_scope.cancel()
                await recv.aclose()


def _map_error(exc: BaseException, server: str, what: str) -> UCPError:
    """Foreign exceptions -> UCP errors, at the boundary."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, UCPError):
        return exc
    if isinstance(exc, SpawnError):
        return DownstreamUnavailableError(mask_secrets(str(exc)), server=server)
    if isinstance(exc, MCPError):
        carried = error_from_dict(
            (exc.error.data or {}).get(UCP_ERROR) if isinstance(exc.error.data, dict) else None
        )
        if carried is not None:  # raised by UCP's own pool process (``ucp serve --workers``)
            return carried
        if exc.error.code == REQUEST_TIMEOUT:
            return DownstreamTimeoutError(f"{what} timed out on server {server!r}", server=server)
        if exc.error.code == CONNECTION_CLOSED:
            return DownstreamUnavailableError(
                f"server {server!r} closed the connection during {what}", server=server
            )
        return DownstreamError(
            f"server {server!r} answered {what} with error {exc.error.code}: {mask_secrets(exc.error.message)[:500]}",
            server=server,
            downstream_code=exc.error.code,
        )
    if isinstance(exc, TimeoutError):
        return DownstreamTimeoutError(f"{what} timed out on server {server!r}", server=server)
    if isinstance(
        exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, ConnectionError)
    ):
        return DownstreamUnavailableError(
            f"server {server!r} is not connected ({type(exc).__name__})", server=server
        )
    name = type(exc).__name__
    if name == "ValidationError":
        return DownstreamProtocolError(
            f"server {server!r} sent an invalid {what} result: {str(exc)[:300]}", server=server
        )
    return DownstreamError(
        f"{what} failed on server {server!r}: {name}: {mask_secrets(str(exc))[:300]}", server=server
    )


class McpSession:
    """A live SDK client session, behind the ``DownstreamSession`` protocol."""

    def __init__(self, client: Client, name: str, closed: anyio.Event) -> None:
        self._client = client
        self._name = name
        self.closed = closed
        caps = client.server_capabilities
        self.capabilities = Capabilities(
            tools=caps.tools is not None,
            resources=caps.resources is not None,
            prompts=caps.prompts is not None,
            completions=caps.completions is not None,
            list_changed=bool(caps.tools and caps.tools.list_changed),
            subscribe=bool(caps.resources and caps.resources.subscribe),
        )
        info = client.server_info
        self.server_info = f"{info.name} {info.version}".strip() if info else ""

    async def _request(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except Exception as exc:
            raise _map_error(exc, self._name, what) from exc

    async def _paginate(self, what: str, fetch: Any, attr: str) -> list[Any]:
        items: list[Any] = []
        cursor: str | None = None
        for _ in range(_PAGE_CAP):
            page = await self._request(what, fetch(cursor=cursor, cache_mode="bypass"))
            items.extend(getattr(page, attr))
            cursor = page.next_cursor
            if not cursor:
                return items
        log.warning("downstream_pagination_capped", server=self._name, list=what, pages=_PAGE_CAP)
        return items

    async def list_tools(self) -> list[types.Tool]:
        return await self._paginate("tools/list", self._client.list_tools, "tools")

    async def list_resources(self) -> list[types.Resource]:
        return await self._paginate("resources/list", self._client.list_resources, "resources")

    async def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return await self._paginate(
            "resources/templates/list", self._client.list_resource_templates, "resource_templates"
        )

    async def list_prompts(self) -> list[types.Prompt]:
        return await self._paginate("prompts/list", self._client.list_prompts, "prompts")

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float, progress: ProgressFn | None = None
    ) -> types.CallToolResult:
        trace = inject({})  # the W3C trace context of the current span, if one records (SEP-414 `_meta`)
        params = (
            types.CallToolRequestParams(name=name, arguments=arguments, _meta=dict(trace))
            if trace
            else types.CallToolRequestParams(name=name, arguments=arguments)
        )
        request = types.CallToolRequest(params=params)
        return await self._request(  # type: ignore[no-any-return]
            f"tools/call {name}",
            self._client.session.send_request(
                request,
                types.CallToolResult,
                request_read_timeout_seconds=timeout,
                progress_callback=progress,
            ),
        )

    async def read_resource(self, uri: str, *, timeout: float) -> types.ReadResourceResult:
        with anyio.fail_after(timeout):
            return await self._request(  # type: ignore[no-any-return]
                f"resources/read {uri}", self._client.read_resource(uri, cache_mode="bypass")
            )

    async def subscribe_resource(self, uri: str, *, timeout: float) -> None:
        # Downstream connections are handshake-era (mode="legacy"), where resources/subscribe is the
        # protocol; the SDK's helper is deprecated only for 2026-era peers, so send the request itself.
        request = types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri))
        with anyio.fail_after(timeout):
            await self._request(
                f"resources/subscribe {uri}", self._client.session.send_request(request, types.EmptyResult)
            )

    async def unsubscribe_resource(self, uri: str, *, timeout: float) -> None:
        request = types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=uri))
        with anyio.fail_after(timeout):
            await self._request(
                f"resources/unsubscribe {uri}", self._client.session.send_request(request, types.EmptyResult)
            )

    async def get_prompt(
        self, name: str, arguments: dict[str, str], *, timeout: float
    ) -> types.GetPromptResult:
        with anyio.fail_after(timeout):
            return await self._request(f"prompts/get {name}", self._client.get_prompt(name, arguments))  # type: ignore[no-any-return]

    async def complete(
        self,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: dict[str, str],
        context_arguments: dict[str, str] | None,
        *,
        timeout: float,
    ) -> types.CompleteResult:
        with anyio.fail_after(timeout):
            return await self._request(  # type: ignore[no-any-return]
                "completion/complete", self._client.complete(ref, argument, context_arguments)
            )

    async def ping(self, *, timeout: float) -> None:
        try:
            with anyio.fail_after(timeout):
                await self._client.session.send_ping()
        except MCPError as exc:
            if exc.error.code != METHOD_NOT_FOUND:
                raise _map_error(exc, self._name, "ping") from exc
            await self.list_tools()  # a server without ping: any cheap request proves liveness
        except Exception as exc:
            raise _map_error(exc, self._name, "ping") from exc


class McpTransport:
    """Opens SDK client sessions to one configured MCP server."""

    def __init__(
        self,
        config: McpServerConfig | UtcpServer,
        *,
        env: Mapping[str, str] | None = None,
        errlog_path: Path | None = None,
        prespawned: Prespawned | None = None,
        oauth_dir: Path | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE,
        streams: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        self.config = config
        self._streams = streams  # opens the wire instead of ``config`` (UCP's own pool process)
        self._oauth_dir = oauth_dir  # tokens of servers that need OAuth (``oauth.py``)
        self._prespawned = prespawned
        self._env = env
        self._errlog_path = errlog_path
        self.max_line_bytes = max_line_bytes

    @property
    def kind(self) -> str:
        return self.config.type

    def _open_transport(self) -> AbstractAsyncContextManager[Any]:
        cfg = self.config
        where = f"servers.{cfg.name}"
        assert isinstance(cfg, (HttpServer, SseServer))  # stdio is spawned in connect()
        headers = {k: expand_env(v, self._env, where=f"{where}.headers.{k}") for k, v in cfg.headers.items()}
        url = expand_env(cfg.url, self._env, where=f"{where}.url")
        if isinstance(cfg, SseServer):
            return sse_client(
                url,
                headers=headers or None,
                timeout=cfg.connect_timeout,
                sse_read_timeout=max(300.0, cfg.timeout),
            )
        import httpx2  # lazy: only HTTP downstreams need it

        auth = None
        if isinstance(cfg, HttpServer) and cfg.oauth and self._oauth_dir is not None:
            from ucp.downstream.oauth import provider

            auth = provider(cfg.name, url, self._oauth_dir, scope=cfg.oauth_scope)
        http_client = httpx2.AsyncClient(
            headers=headers,
            timeout=httpx2.Timeout(cfg.connect_timeout, read=max(300.0, cfg.timeout)),
            auth=auth,
            event_hooks={"request": [_traceparent_header]},
        )
        return _owning(http_client, streamable_http_client(url, http_client=http_client))

    @asynccontextmanager
    async def connect(self, events: DownstreamEvents) -> AsyncIterator[McpSession]:
        name = self.config.name

        async def on_message(message: IncomingMessage) -> None:
            if isinstance(message, types.ToolListChangedNotification):
                events.list_changed("tools")
            elif isinstance(message, types.PromptListChangedNotification):
                events.list_changed("prompts")
            elif isinstance(message, types.ResourceListChangedNotification):
                events.list_changed("resources")
            elif isinstance(message, types.ResourceUpdatedNotification):
                events.resource_updated(str(message.params.uri))
            elif isinstance(message, Exception):
                log.warning(
                    "downstream_transport_fault",
                    server=name,
                    error=f"{type(message).__name__}: {message}"[:300],
                )
            else:
                await anyio.lowlevel.checkpoint()

        closed = anyio.Event()
        adopted, self._prespawned = (
            self._prespawned,
            None,
        )  # a pre-spawned process serves the first connect only
        if adopted is not None and adopted.process.returncode is not None:
            if adopted.errlog is not None:
                adopted.errlog.close()
            adopted = None
        try:
            if self._streams is not None:
                transport: AbstractAsyncContextManager[Any] = self._streams()
            elif isinstance(self.config, StdioServer):
                if adopted is None:
                    adopted = await spawn(self.config, env=self._env, errlog_path=self._errlog_path)
                transport = adopted_stdio(adopted, max_line_bytes=self.max_line_bytes, server=name)
            else:
                transport = self._open_transport()
        except Exception as exc:
            raise _map_error(exc, name, "connect") from exc

        async def on_elicit(
            context: Any, params: types.ElicitRequestParams
        ) -> types.ElicitResult | types.ErrorData:
            return await events.elicit(params)

        client = Client(
            _guarded(transport, closed, name),
            mode="legacy",
            elicitation_callback=on_elicit,
            read_timeout_seconds=self.config.connect_timeout,
            message_handler=on_message,
            client_info=types.Implementation(name="ucp", version=ucp.__version__),
            cache=None,
        )
        entered = False
        try:
            async with client:
                entered = True
                yield McpSession(client, name, closed)
        except Exception as exc:
            if entered:
                raise
            raise _map_error(exc, name, "connect") from exc


@asynccontextmanager
async def _owning(http_client: Any, inner: AbstractAsyncContextManager[Any]) -> AsyncIterator[Any]:
    """The SDK does not close an HTTP client it was given; this closes it with the transport."""
    async with http_client, inner as streams:
        yield streams


async def _traceparent_header(request: Any) -> None:
    """Copy a JSON-RPC request's ``_meta.traceparent`` into the W3C header of its HTTP POST (the SDK
    writes requests from its own task, where the caller's span is not current)."""
    if request.method != "POST" or "traceparent" in request.headers:
        return
    value = traceparent_of(request.content)
    if value:
        request.headers["traceparent"] = value
