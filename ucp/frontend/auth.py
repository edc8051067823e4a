"""Who may talk to UCP over HTTP: OAuth 2.1 bearer tokens, static API keys, or loopback only.

With OAuth configured (``[auth] resource`` and ``issuer``) UCP is a resource
server as the MCP authorization spec describes: it publishes Protected Resource
Metadata (RFC 9728) at ``/.well-known/oauth-protected-resource`` (and at the
path-inserted form for its resource path), answers an unauthenticated request
``401`` with ``WWW-Authenticate: Bearer resource_metadata="…"`` so a client can
discover the IdP, and accepts JWTs for its own resource URI only
(``ucp.identity.tokens``). API keys (``ucp keys create``; ``[http] api_keys``
hashes; ``UCP_API_KEYS``) work alongside. The caller's ``Identity`` is put in
the request's ASGI ``state`` for the session layer; the ``Authorization``
header is never forwarded to a downstream (downstreams get their own
credentials).

Without any key and without OAuth UCP only listens on loopback (``check_bind``),
and then a browser is the remaining way in: a web page may POST to
``127.0.0.1`` (cross-site request) or rebind its own DNS name to it. So,
keyless on a loopback socket, a request must name a loopback ``Host`` and, when
it carries an ``Origin``, a loopback origin; anything else is answered 421.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ucp.config.models import AuthSettings, HttpSettings
from ucp.errors import AuthError
from ucp.identity import LOCAL, Identity
from ucp.identity.authenticator import Authenticator
from ucp.identity.keys import config_keys
from ucp.identity.keys import hash_key as hash_key
from ucp.log import get_logger

log = get_logger("ucp.auth")

METADATA_PATH = "/.well-known/oauth-protected-resource"
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/ui"})
# The dashboard's static shell (HTML, JS, CSS; no data): a browser cannot send a bearer header on
# navigation, so the page loads, asks for the key and sends it on every data request.
OPEN_PREFIXES = ("/ui/",)
STATE_KEY = "ucp.identity"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def load_keys(settings: HttpSettings, env: Mapping[str, str] | None = None) -> frozenset[str]:
    """Hashes of the keys ``[http]`` and the environment declare (``ConfigError`` on plain keys)."""
    import os

    return frozenset(config_keys(AuthSettings(), settings, os.environ if env is None else env))


def identity_in(scope: Scope) -> Identity:
    """The identity the middleware authenticated, else the local user (auth off)."""
    identity = scope.get("state", {}).get(STATE_KEY)
    return identity if isinstance(identity, Identity) else LOCAL


def identity_of(request: Request) -> Identity:
    """The identity the middleware authenticated, else the local user (auth off)."""
    return identity_in(request.scope)


def metadata_paths(resource: str | None) -> list[str]:
    """RFC 9728 §3.1: the well-known suffix is inserted before the resource's path; the root form too."""
    paths = [METADATA_PATH]
    path = urlsplit(resource).path.rstrip("/") if resource else ""
    if path:
        paths.append(METADATA_PATH + path)
    return paths


def metadata_url(settings: AuthSettings) -> str:
    assert settings.resource is not None
    parts = urlsplit(settings.resource)
    return f"{parts.scheme}://{parts.netloc}{metadata_paths(settings.resource)[-1]}"


def resource_metadata(settings: AuthSettings) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resource": settings.resource,
        "authorization_servers": [settings.issuer],
        "bearer_methods_supported": ["header"],
        "resource_name": "UCP",
    }
    if settings.scopes_supported:
        doc["scopes_supported"] = list(settings.scopes_supported)
    return doc


def metadata_routes(settings: AuthSettings) -> list[Route]:
    if not (settings.resource and settings.issuer):
        return []
    doc = resource_metadata(settings)

    async def serve(request: Request) -> JSONResponse:
        return JSONResponse(doc, headers={"cache-control": "public, max-age=300"})

    return [Route(p, serve, methods=["GET"]) for p in metadata_paths(settings.resource)]


def _is_loopback_host(host: str) -> bool:
    host = host.strip().strip("[]").rstrip(".").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(header: str) -> str:
    try:
        return urlsplit(f"//{header}").hostname or ""
    except ValueError:
        return ""


def _quote(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")


async def _deny(
    send: Send, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def local_request_ok(scope: Scope, headers: Mapping[str, str]) -> bool:
    """Keyless mode on a loopback socket: only requests that name loopback (no DNS rebinding,
    no cross-site form posts)."""
    server = scope.get("server")
    if not server or not _is_loopback_host(str(server[0])):
        return True
    if not _is_loopback_host(_host_of(headers.get("host", ""))):
        return False
    origin = headers.get("origin")
    if origin and origin != "null":
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and _is_loopback_host(parts.hostname or "")
    return origin != "null"


class Authenticate:
    """Pure ASGI middleware (works for streaming responses, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator, on_denied: Any = None) -> None:
        self.app = app
        self.auth = authenticator
        self.on_denied = on_denied  # callable(reason, path) for the audit log and metrics
        settings = authenticator.settings
        self.open_paths = OPEN_PATHS | (
            frozenset(metadata_paths(settings.resource)) if authenticator.oauth else frozenset()
        )
        self.challenge = 'Bearer realm="ucp"'
        if authenticator.oauth:
            self.challenge += f', resource_metadata="{metadata_url(settings)}"'

    def _www_authenticate(self, exc: AuthError) -> bytes:
        reason = exc.details.get("reason")
        if reason == "missing":
            return self.challenge.encode()
        error = "insufficient_scope" if reason == "insufficient_scope" else "invalid_token"
        value = f'{self.challenge}, error="{error}", error_description="{_quote(exc.message)}"'
        if exc.details.get("scope"):
            value += f', scope="{_quote(str(exc.details["scope"]))}"'
        return value.encode("latin-1", "replace")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] not in ("http", "websocket")
            or path in self.open_paths
            or path.startswith(OPEN_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if not self.auth.enabled:
            if local_request_ok(scope, headers):
                await self.app(scope, receive, send)
            elif scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _deny(
                    send,
                    421,
                    "host_not_allowed",
                    "without API keys UCP only answers requests addressed to loopback from loopback origins",
                )
            return
        try:
            identity = await self.auth.authenticate(headers.get("authorization"))
        except AuthError as exc:
            if self.on_denied is not None:
                self.on_denied(str(exc.details.get("reason", "")), str(scope.get("path", "")))
            log.info("auth_denied", reason=exc.details.get("reason"), path=scope.get("path"))
            if scope["type"] == "websocket":  # UCP serves none; never let one through unchecked
                await send({"type": "websocket.close", "code": 1008})
                return
            status = int(exc.details.get("status", 401))
            await _deny(
                send, status, exc.code, exc.message, [(b"www-authenticate", self._www_authenticate(exc))]
            )
            return
        scope.setdefault("state", {})[STATE_KEY] = identity
        await self.app(scope, receive, send)
