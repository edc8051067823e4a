"""Bearer API keys for everything on HTTP but ``/healthz``.

Keys are stored hashed (``sha256:<hex>`` in ``[http] api_keys``; ``printf %s KEY | sha256sum``
prints one) or come from the environment (``UCP_API_KEYS``, comma-separated,
hashed on load and never logged). Comparison is constant-time on the hashes.

Without keys UCP only listens on loopback (``check_bind``), and then a browser is
the remaining way in: a web page may POST to ``127.0.0.1`` (cross-site request)
or rebind its own DNS name to it. So, keyless on a loopback socket, a request
must name a loopback ``Host`` and, when it carries an ``Origin``, a loopback
origin; anything else is answered 421.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from ucp.config.models import HttpSettings
from ucp.errors import ConfigError

OPEN_PATHS = frozenset({"/healthz"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def load_keys(settings: HttpSettings, env: Mapping[str, str] | None = None) -> frozenset[str]:
    environ = os.environ if env is None else env
    hashes: set[str] = set()
    for entry in settings.api_keys:
        if not entry.startswith("sha256:") or len(entry) != 7 + 64:
            raise ConfigError(
                "API keys in the config must be hashes 'sha256:<64 hex>' (`printf %s KEY | sha256sum` gives the hex), "
                "never plain keys; plain keys go in the UCP_API_KEYS environment variable",
                field="http.api_keys",
            )
        hashes.add(entry.lower())
    for key in environ.get(settings.api_keys_env, "").split(","):
        if key.strip():
            hashes.add(hash_key(key.strip()))
    return frozenset(hashes)


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


class BearerAuth:
    """Pure ASGI middleware (works for streaming responses, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, *, hashes: frozenset[str]) -> None:
        self.app = app
        self.hashes = hashes

    def allowed(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("bearer "):
            return False
        digest = hash_key(header[7:].strip())
        return any(hmac.compare_digest(digest, h) for h in self.hashes)

    def local_request_ok(self, scope: Scope, headers: Mapping[str, str]) -> bool:
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if scope["type"] == "websocket":  # UCP serves none; never let one through unchecked
            if (
                self.allowed(headers.get("authorization"))
                if self.hashes
                else self.local_request_ok(scope, headers)
            ):
                await self.app(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if not self.hashes:
            if self.local_request_ok(scope, headers):
                await self.app(scope, receive, send)
                return
            await _deny(
                send,
                421,
                "host_not_allowed",
                "without API keys UCP only answers requests addressed to loopback from loopback origins",
            )
            return
        if self.allowed(headers.get("authorization")):
            await self.app(scope, receive, send)
            return
        await _deny(
            send,
            401,
            "unauthorized",
            "missing or invalid bearer API key (Authorization: Bearer <key>)",
            [(b"www-authenticate", b'Bearer realm="ucp"')],
        )
