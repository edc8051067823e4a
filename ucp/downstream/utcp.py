"""UTCP manuals as downstreams, through the ``utcp`` package and its http/cli/text plugins.

A ``UtcpServer`` names a manual: a file path (JSON or YAML), or an http(s) URL
serving a manual. Either may hold an OpenAPI document instead, which is
converted with utcp-http's converter. UCP reads the manual itself (the URL after
the SSRF check, every redirect re-checked, the body capped at
``max_response_bytes``) and registers it with a ``UtcpClient`` as one ``text``
call template, so utcp's own http, sse, streamable_http and cli protocols make
the calls. The tools' templates must use a protocol the server allows: the HTTP
family and ``text`` always; anything else (``cli`` runs commands) only when
listed in ``allowed_protocols``. A remote manual may not point tools at
private, link-local or metadata addresses, nor at loopback unless it was itself
fetched from loopback; plain-http tool URLs must be loopback (utcp-http calls
other hosts over https only). The same check runs again at every call, on the URL
after variable and argument substitution (a ``{host}`` or ``{port}`` placeholder is
no way round it), and on every redirect hop utcp-http follows during the call.

Names: utcp registers ``<manual>.<tool>``; UCP lists the tool's own name,
sanitized to ``[A-Za-z0-9_-]`` (collisions get a numeric suffix). A tool whose
only input is its HTTP ``body`` field is listed with the body's schema, and its
arguments are wrapped back on the call. Results: a dict becomes structured
content plus its JSON text; anything else becomes text.

``utcp`` writes ``$VAR`` substitution over a text template's content: the
manual's ``$`` characters are escaped as ``\\u0024`` (the JSON decoder restores
them), so only call templates see variables, at call time.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types

from ucp.config.loader import expand_env
from ucp.config.models import UtcpServer
from ucp.downstream.base import Capabilities, DownstreamEvents, ProgressFn, ToolsOnly
from ucp.downstream.repair import repair_input_schema
from ucp.downstream.urlsafety import check_url, check_url_sync, is_loopback_url, redact_url, safe_fetch
from ucp.errors import (
    DownstreamError,
    DownstreamProtocolError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
    ManualError,
    UCPError,
    UnsafeURLError,
)
from ucp.log import get_logger
from ucp.safeparse import DocumentError, load_json, load_yaml

log = get_logger("ucp.downstream.utcp")

_UTCP_LOGGERS = ("utcp", "utcp_http", "utcp_cli", "utcp_text")
for _name in _UTCP_LOGGERS:  # their INFO chatter is not ours to print
    logging.getLogger(_name).setLevel(logging.WARNING)
_QUERY = re.compile(r"(https?://[^\s'\"?#]+)\?[^\s'\"]*")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.I)


class _RedactSecrets(logging.Filter):
    """utcp logs request URLs (an API key may sit in the query) and error bodies: redact them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = _BEARER.sub(r"\1***", _QUERY.sub(r"\1?***", message)), ()
        return True


def _guard_utcp_logs() -> None:
    """Filters apply to the logger a record is made on, not to its parents: attach to each one."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if (
            isinstance(logger, logging.Logger)
            and name.split(".")[0] in _UTCP_LOGGERS
            and not any(isinstance(f, _RedactSecrets) for f in logger.filters)
        ):
            logger.addFilter(_RedactSecrets())


BASE_PROTOCOLS = ("http", "sse", "streamable_http", "text")
HTTP_FAMILY = frozenset({"http", "sse", "streamable_http"})
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_BAD = re.compile(r"[^A-Za-z0-9_-]")


def manual_namespace(server: str) -> str:
    """The name utcp registers a manual under (every non-word character becomes ``_``)."""
    return re.sub(r"[^\w]", "_", server)


def variable_key(server: str, name: str) -> str:
    """utcp looks a manual's ``${NAME}`` up as ``<namespace with _ doubled>_<NAME>``."""
    return manual_namespace(server).replace("_", "__") + "_" + name


@dataclass(frozen=True)
class ManualSource:
    manual: dict[str, Any]  # a UTCP manual (OpenAPI already converted)
    origin: str | None  # the final URL, or None for a file
    digest: str  # of the raw bytes: a changed manual is re-registered
    openapi: bool = False


def _parse(raw: bytes, hint: str, where: str) -> dict[str, Any]:
    """JSON or YAML, bounded (``ucp.safeparse``: depth, expanded size, no alias blow-up)."""
    text = raw.decode("utf-8", errors="replace")
    try:
        if hint.endswith((".yaml", ".yml")) or "yaml" in hint:
            data = load_yaml(text)
        else:
            try:
                data = load_json(text)
            except DocumentError as exc:
                if exc.reason != "invalid_json":
                    raise
                data = load_yaml(text)
    except DocumentError as exc:
        raise ManualError(
            f"{where} cannot be read as JSON or YAML: {str(exc)[:200]}", manual=where, reason=exc.reason
        ) from None
    if not isinstance(data, dict):
        raise ManualError(f"{where} is not a UTCP manual or OpenAPI document (not an object)", manual=where)
    return data


def to_manual(
    data: dict[str, Any], *, server: str, origin: str | None, where: str
) -> tuple[dict[str, Any], bool]:
    """A UTCP manual from a manual or an OpenAPI document; ``(manual, was_openapi)``."""
    is_openapi = "openapi" in data or "swagger" in data
    if "tools" in data and not is_openapi:
        version = str(data.get("utcp_version", "1.0.0"))
        if not version.startswith("1."):
            raise ManualError(
                f"{where} has utcp_version {version!r}; UCP reads UTCP 1.x manuals", manual=where
            )
        if not isinstance(data["tools"], list):
            raise ManualError(f"{where}: 'tools' must be a list", manual=where)
        return data, False
    if is_openapi or "paths" in data:
        from utcp.data.utcp_manual import UtcpManualSerializer
        from utcp_http.openapi_converter import OpenApiConverter

        try:
            converted = OpenApiConverter(
                data, spec_url=origin, call_template_name=manual_namespace(server)
            ).convert()
        except Exception as exc:
            raise ManualError(
                f"cannot convert the OpenAPI document {where}: {str(exc)[:300]}", manual=where
            ) from None
        return dict(UtcpManualSerializer().to_dict(converted)), True
    raise ManualError(
        f"{where} is neither a UTCP manual (utcp_version + tools) nor an OpenAPI document", manual=where
    )


class UtcpSession(ToolsOnly):
    """A registered manual in a live ``UtcpClient``, behind the ``DownstreamSession`` protocol."""

    def __init__(self, transport: UtcpTransport, client: Any, events: DownstreamEvents, http: Any) -> None:
        self._t = transport
        self._client = client
        self._events = events
        self._http = http
        self.name = transport.config.name
        self.capabilities = Capabilities(tools=True)
        self.closed = anyio.Event()
        self.server_info = ""
        self._source: ManualSource | None = None
        self._pending: ManualSource | None = None
        self._tools: list[types.Tool] = []
        self._templates: dict[str, Any] = {}  # listed name -> its call template (checked per call)
        self._targets: dict[
            str, tuple[str, str | None]
        ] = {}  # listed name -> (utcp name, body field to wrap in)

    # ------------------------------------------------------------ registration
    async def register(self, source: ManualSource) -> None:
        from utcp.data.call_template import CallTemplateSerializer

        namespace = manual_namespace(self.name)
        if self._source is not None:
            await self._client.deregister_manual(namespace)
        manual = await self._screen(source)
        content = json.dumps(manual).replace("$", "\\u0024")
        template = CallTemplateSerializer().validate_dict(
            {
                "name": namespace,
                "call_template_type": "text",
                "content": content,
                "allowed_communication_protocols": self._t.allowed_protocols,
            }
        )
        result = await self._client.register_manual(template)
        if not result.success:
            raise ManualError(f"server {self.name!r}: {' '.join(result.errors)[:400]}", server=self.name)
        self._source = source
        self._tools, self._targets = self._map(result.manual.tools)
        skipped = len(manual.get("tools", [])) - len(self._tools)
        if skipped:
            log.warning(
                "utcp_tools_not_allowed",
                server=self.name,
                skipped=skipped,
                allowed=self._t.allowed_protocols,
                hint="add the protocol to allowed_protocols to use them",
            )
        version = manual.get("manual_version")
        self.server_info = f"utcp {manual.get('utcp_version', '')} manual {version or ''}".strip()

    async def _screen(self, source: ManualSource) -> dict[str, Any]:
        """Drop invalid tools and tools whose HTTP target is not allowed (SSRF), with a warning each:
        one bad tool must not hide the others."""
        from utcp.data.tool import ToolSerializer

        keep: list[Any] = []
        cache: dict[str, str | None] = {}
        remote = source.origin is not None and not is_loopback_url(source.origin)
        for tool in source.manual.get("tools", []):
            try:
                ToolSerializer().validate_dict(dict(tool) if isinstance(tool, dict) else tool)
            except Exception as exc:
                name = tool.get("name") if isinstance(tool, dict) else None
                log.warning(
                    "utcp_tool_invalid", server=self.name, tool=name, error=str(exc).splitlines()[-1][:300]
                )
                continue
            template = tool.get("tool_call_template") if isinstance(tool, dict) else None
            url = template.get("url") if isinstance(template, dict) else None
            kind = template.get("call_template_type") if isinstance(template, dict) else None
            if kind in HTTP_FAMILY and isinstance(url, str):
                host_part = url.split("/", 3)[:3]
                key = "/".join(host_part)
                if key not in cache:
                    cache[key] = await self._url_problem(key + "/", remote)
                if cache[key] is not None:
                    log.warning(
                        "utcp_tool_url_refused",
                        server=self.name,
                        tool=tool.get("name"),
                        reason=cache[key],
                        url=redact_url(url),
                    )
                    continue
            keep.append(tool)
        return {**source.manual, "tools": keep}

    async def _url_problem(self, url: str, remote: bool) -> str | None:
        if "{" in url:
            literal = _literal_origin(url)
            if literal is None:
                return None  # a templated host is checked at call time, after expansion
            url = literal
        if url.lower().startswith("http://") and not is_loopback_url(url):
            return "insecure_http"  # utcp-http calls plain http on loopback only: the call would fail
        try:
            await check_url(
                url, allow_private=self._t.allow_private, allow_loopback=self._t.allow_loopback and not remote
            )
        except UnsafeURLError as exc:
            reason = str(exc.details.get("reason"))
            return (
                None if reason == "unresolvable" else reason
            )  # offline now is not unsafe; the call will say
        return None

    def _map(self, utcp_tools: list[Any]) -> tuple[list[types.Tool], dict[str, tuple[str, str | None]]]:
        prefix = manual_namespace(self.name) + "."
        tools: list[types.Tool] = []
        targets: dict[str, tuple[str, str | None]] = {}
        for tool in utcp_tools:
            full = str(tool.name)
            own = full[len(prefix) :] if full.startswith(prefix) else full
            listed = _BAD.sub("_", own) or "tool"
            n = 2
            while listed in targets:
                listed, n = f"{_BAD.sub('_', own)}_{n}", n + 1
            inputs = tool.inputs.model_dump(by_alias=True, exclude_none=True) if tool.inputs else {}
            template = tool.tool_call_template
            kind = str(getattr(template, "call_template_type", ""))
            wrap = _body_only(inputs, getattr(template, "body_field", None)) if kind in HTTP_FAMILY else None
            schema, _fixes = repair_input_schema(inputs["properties"][wrap] if wrap else inputs)
            outputs = tool.outputs.model_dump(by_alias=True, exclude_none=True) if tool.outputs else {}
            tags = list(dict.fromkeys([*self._t.config.tags, *(str(t) for t in tool.tags or [])]))
            tools.append(
                types.Tool(
                    name=listed,
                    description=tool.description or "",
                    input_schema=schema,
                    output_schema=outputs if outputs.get("type") == "object" else None,
                    _meta={"ucp/tags": tags, "ucp/utcp": {"call_template_type": kind}},
                )
            )
            targets[listed] = (full, wrap)
            self._templates[listed] = template
        return tools, targets

    @property
    def tool_count(self) -> int:
        return len(self._tools)

    # ------------------------------------------------------------ DownstreamSession
    async def list_tools(self) -> list[types.Tool]:
        pending, self._pending = self._pending, None
        if pending is not None:
            await self.register(pending)
            log.info("utcp_manual_reloaded", server=self.name, tools=len(self._tools))
        return list(self._tools)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float, progress: ProgressFn | None = None
    ) -> types.CallToolResult:
        target = self._targets.get(name)
        if target is None:
            raise DownstreamError(f"server {self.name!r} has no tool {name!r}", server=self.name, tool=name)
        full, wrap = target
        args = {wrap: arguments} if wrap else dict(arguments)
        await self._check_call_url(name, full, args)
        token = _POLICY.set((self._t.allow_private, self._t.allow_loopback and not self._remote))
        try:
            with anyio.fail_after(timeout):
                value = await self._client.call_tool(full, args)
        except TimeoutError:
            raise DownstreamTimeoutError(
                f"{name} on server {self.name!r} took longer than {timeout:g} s", server=self.name
            ) from None
        except Exception as exc:
            raise _map_error(exc, self.name, name) from exc
        finally:
            _POLICY.reset(token)
        return to_result(value, self.name, self._t.max_bytes)

    @property
    def _remote(self) -> bool:
        origin = self._source.origin if self._source is not None else None
        return origin is not None and not is_loopback_url(origin)

    async def _check_call_url(self, name: str, full: str, args: dict[str, Any]) -> None:
        """The URL this call will fetch, after variable and argument substitution, checked as
        strictly as at registration (a ``{host}`` or ``{port}`` placeholder is no way round it)."""
        template = self._templates.get(name)
        if template is None or str(getattr(template, "call_template_type", "")) not in HTTP_FAMILY:
            return
        substitute = getattr(self._client, "_substitute_call_template_variables", None)
        if substitute is not None:
            try:
                template = substitute(template, full.split(".")[0])
            except Exception:
                return  # a missing variable: the call itself reports it
        url = expand_url(template, args)
        if url is None:
            return
        await check_url(
            url,
            allow_private=self._t.allow_private,
            allow_loopback=self._t.allow_loopback and not self._remote,
        )

    async def ping(self, *, timeout: float) -> None:
        """Re-read the manual (a URL is re-fetched): proves the service is up; a change is reloaded."""
        try:
            with anyio.fail_after(timeout):
                source = await self._t.load(self._http)
        except TimeoutError:
            raise DownstreamUnavailableError(
                f"server {self.name!r}: manual check timed out", server=self.name
            ) from None
        except UCPError as exc:
            raise DownstreamUnavailableError(
                f"server {self.name!r}: {exc.message}", server=self.name
            ) from None
        if self._source is not None and source.digest != self._source.digest:
            self._pending = source
            self._events.list_changed("tools")


def expand_url(template: Any, args: Mapping[str, Any]) -> str | None:
    """The URL utcp-http will request for ``args`` (header and body fields removed, path
    placeholders filled), or None when a placeholder has no argument (the call fails anyway)."""
    url = getattr(template, "url", None)
    if not isinstance(url, str):
        return None
    rest = dict(args)
    for field_name in getattr(template, "header_fields", None) or []:
        rest.pop(field_name, None)
    body_field = getattr(template, "body_field", None)
    if body_field:
        rest.pop(body_field, None)
    for name in re.findall(r"\{([^}]+)\}", url):
        if name not in rest:
            return None
        url = url.replace("{" + name + "}", str(rest[name]))
    return url


def _literal_origin(url: str) -> str | None:
    """``scheme://host/`` of a templated URL whose host is literal (a placeholder only in the port
    or path), for the registration check; None when the host itself is a placeholder."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)", url)
    if match is None:
        return None
    authority = match.group(2).rsplit("@", 1)[-1]
    host = authority[: authority.index("]") + 1] if authority.startswith("[") else authority.split(":", 1)[0]
    if not host or "{" in host:
        return None
    return f"{match.group(1)}://{host}/"


_POLICY: contextvars.ContextVar[tuple[bool, bool] | None] = contextvars.ContextVar(
    "ucp_utcp_policy", default=None
)


def _guard_redirects() -> None:
    """utcp-http re-checks each redirect hop with its own ``ensure_secure_url`` (any https, or
    http to loopback). Wrap it so a hop made during a UCP call is also held to UCP's policy
    (no loopback unless allowed, no private, link-local or metadata address)."""
    from utcp_http import _security

    original = _security.ensure_secure_url
    if getattr(original, "_ucp_guarded", False):
        return

    def ensure_secure_url(url: str, *, context: str | None = None) -> None:
        original(url, context=context)
        policy = _POLICY.get()
        if policy is not None:
            check_url_sync(url, allow_private=policy[0], allow_loopback=policy[1])

    ensure_secure_url._ucp_guarded = True  # type: ignore[attr-defined]
    _security.ensure_secure_url = ensure_secure_url


def _body_only(inputs: dict[str, Any], body_field: Any) -> str | None:
    """The body field, when it is the tool's only input and an object (its arguments are listed unwrapped)."""
    props = inputs.get("properties")
    if not isinstance(body_field, str) or not isinstance(props, dict) or list(props) != [body_field]:
        return None
    body = props[body_field]
    return body_field if isinstance(body, dict) and body.get("type") == "object" else None


def to_result(value: Any, server: str, max_bytes: int) -> types.CallToolResult:
    structured: dict[str, Any] | None = None
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        structured = value if isinstance(value, dict) else None
    elif isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    elif value is None:
        text = ""
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, default=str)
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise DownstreamProtocolError(
            f"server {server!r} returned {size} bytes; the limit is {max_bytes} ([http] max_response_bytes)",
            server=server,
            size=size,
            limit=max_bytes,
        )
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured
    )


def _map_error(exc: BaseException, server: str, tool: str) -> UCPError:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, UCPError):
        return exc
    import aiohttp

    name = type(exc).__name__
    if isinstance(exc, aiohttp.ClientResponseError):
        return DownstreamError(
            f"{tool} on server {server!r} answered HTTP {exc.status}: {str(exc.message)[:300]}",
            server=server,
            status=exc.status,
        )
    if isinstance(exc, (aiohttp.ClientConnectionError, ConnectionError)):
        return DownstreamUnavailableError(f"server {server!r} is not reachable ({name})", server=server)
    if name == "UtcpVariableNotFound":
        return DownstreamError(
            f"{tool} on server {server!r} needs a variable that is not set: {exc}; add it to the server's variables",
            server=server,
        )
    return DownstreamError(f"{tool} failed on server {server!r}: {name}: {str(exc)[:300]}", server=server)


class UtcpTransport:
    """Opens a ``UtcpClient`` with one configured manual registered."""

    def __init__(
        self,
        config: UtcpServer,
        *,
        env: Mapping[str, str] | None = None,
        options: Mapping[str, object] | None = None,
    ) -> None:
        opts = dict(options or {})
        self.config = config
        self.env = env
        self.allow_private = bool(opts.get("allow_private", False))
        self.allow_loopback = bool(opts.get("allow_loopback", True))
        limit = opts.get("max_bytes", 8 * 1024 * 1024)
        self.max_bytes = int(limit) if isinstance(limit, (int, float, str)) else 8 * 1024 * 1024
        self.allowed_protocols = list(dict.fromkeys([*BASE_PROTOCOLS, *config.allowed_protocols]))

    @property
    def kind(self) -> str:
        return "utcp"

    def _location(self) -> str:
        return expand_env(self.config.manual, self.env, where=f"servers.{self.config.name}.manual")

    async def load(self, http: Any = None) -> ManualSource:
        """Read and parse the manual (fetching a URL safely); OpenAPI is converted."""
        where = self._location()
        if _URL_RE.match(where) and not re.match(r"^[A-Za-z]:[\\/]", where):
            fetched = await safe_fetch(
                where,
                allow_private=self.allow_private,
                allow_loopback=self.allow_loopback,
                max_bytes=self.max_bytes,
                timeout=self.config.connect_timeout,
                client=http,
                server=self.config.name,
            )
            raw, hint, origin, shown = (
                fetched.body,
                f"{fetched.content_type} {fetched.url}",
                fetched.url,
                redact_url(where),
            )
        else:
            path = await anyio.Path(where).expanduser()
            try:
                raw = await path.read_bytes()
            except OSError as exc:
                raise ManualError(
                    f"cannot read the manual file {path}: {exc.strerror}", manual=str(path)
                ) from None
            if len(raw) > self.max_bytes:
                raise ManualError(f"{path} is larger than {self.max_bytes} bytes", manual=str(path))
            hint, origin, shown = path.suffix.lower(), None, str(path)
        data = await anyio.to_thread.run_sync(_parse, raw, hint, shown)  # never on the event loop
        manual, openapi = to_manual(data, server=self.config.name, origin=origin, where=shown)
        return ManualSource(
            manual=manual, origin=origin, digest=hashlib.sha256(raw).hexdigest(), openapi=openapi
        )

    def _variables(self) -> dict[str, str]:
        name = self.config.name
        return {
            variable_key(name, key): expand_env(value, self.env, where=f"servers.{name}.variables.{key}")
            for key, value in self.config.variables.items()
        }

    @asynccontextmanager
    async def connect(self, events: DownstreamEvents) -> AsyncIterator[UtcpSession]:
        import httpx2
        from utcp.utcp_client import UtcpClient

        async with httpx2.AsyncClient(follow_redirects=False, trust_env=False) as http:
            source = await self.load(http)
            try:
                client = await UtcpClient.create(config={})
            except Exception as exc:
                raise DownstreamError(
                    f"cannot start the UTCP client: {type(exc).__name__}: {exc}", server=self.config.name
                ) from exc
            _guard_utcp_logs()  # after create(): the plugins' modules (and loggers) exist now
            _guard_redirects()
            # set after create(): utcp would otherwise run $-substitution over the values themselves
            client.config.variables = self._variables()
            session = UtcpSession(self, client, events, http)
            try:
                try:
                    await session.register(source)
                except UCPError:
                    raise
                except Exception as exc:
                    raise ManualError(
                        f"server {self.config.name!r}: cannot register the manual: {exc}",
                        server=self.config.name,
                    ) from exc
                log.info(
                    "utcp_manual_registered",
                    server=self.config.name,
                    tools=session.tool_count,
                    openapi=source.openapi,
                    origin=redact_url(source.origin) if source.origin else "file",
                )
                yield session
            finally:
                session.closed.set()
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    try:
                        await client.close()
                    except Exception as exc:
                        log.debug("utcp_client_close_failed", server=self.config.name, error=repr(exc)[:200])
