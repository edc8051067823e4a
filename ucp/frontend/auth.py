"""Bearer API keys for everything on HTTP but ``/healthz``.

Keys are stored hashed (``sha256:<hex>`` in ``[http] api_keys``; ``ucp keys hash``
prints one) or come from the environment (``UCP_API_KEYS``, comma-separated,
hashed on load and never logged). Comparison is constant-time on the hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from ucp.config.models import HttpSettings
from ucp.errors import ConfigError

OPEN_PATHS = frozenset({"/healthz"})


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def load_keys(settings: HttpSettings, env: Mapping[str, str] | None = None) -> frozenset[str]:
    environ = os.environ if env is None else env
    hashes: set[str] = set()
    for entry in settings.api_keys:
        if not entry.startswith("sha256:") or len(entry) != 7 + 64:
            raise ConfigError(
                "API keys in the config must be hashes 'sha256:<64 hex>' (run `ucp keys hash`), never plain keys",
                field="http.api_keys",
            )
        hashes.add(entry.lower())
    for key in environ.get(settings.api_keys_env, "").split(","):
        if key.strip():
            hashes.add(hash_key(key.strip()))
    return frozenset(hashes)


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.hashes or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.allowed(headers.get("authorization")):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {"error": {"code": "unauthorized", "message": "missing or invalid bearer API key (Authorization: Bearer <key>)"}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="ucp"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
