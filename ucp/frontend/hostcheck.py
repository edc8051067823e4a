"""DNS-rebinding guard for every route on a loopback bind, as pure ASGI middleware.

The SDK checks ``Host`` on ``/mcp`` only. On a loopback bind, a page in the user's browser
can rebind its own name to 127.0.0.1 and then read ``/healthz``, ``/utcp`` (whose tool URLs
would otherwise follow the ``Host`` it sent) or the REST API. A request whose ``Host`` is
not a loopback name or address is answered 421 before any route runs. Non-loopback binds
need a bearer key on every route but ``/healthz`` anyway (``routes.auth_middleware``).
"""

from __future__ import annotations

import ipaddress
import json

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def host_is_loopback(value: str) -> bool:
    host = value.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.rstrip(".")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackHostOnly:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hosts = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"host"]
        if len(hosts) == 1 and host_is_loopback(hosts[0]):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "error": {
                    "code": "misdirected_request",
                    "message": "this UCP listens on loopback only; the Host header must name 127.0.0.1, "
                    "localhost or [::1]",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 421,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
