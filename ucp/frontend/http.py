"""UCP over HTTP: stateful streamable HTTP MCP at ``/mcp``, ``GET /healthz``, and the
REST, UTCP and service-registry routes, in one Starlette app served by uvicorn.

Binding rules (see DESIGN.md "Trust"): with no API key UCP serves on loopback
only, without auth; with keys every route but ``/healthz`` needs one (``/mcp``
included); a non-loopback bind without keys is refused before anything starts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

import ucp
from ucp.app import Gateway
from ucp.errors import ConfigError
from ucp.frontend.server import GatewayServer

RouteFactory = Callable[[Gateway, GatewayServer], Sequence[BaseRoute]]


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, has_keys: bool) -> None:
    """Refuse to listen beyond loopback without auth."""
    if not is_loopback(host) and not has_keys:
        raise ConfigError(
            f"refusing to listen on {host} without API keys: anyone on the network could call every tool. "
            'Configure keys ([http] api_keys = ["sha256:..."] or UCP_API_KEYS) or bind 127.0.0.1',
            field="http.host",
        )


async def healthz(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    servers = gateway.pool.status()
    healthy = sum(1 for s in servers if s.healthy)
    return JSONResponse(
        {
            "status": "ok",
            "version": ucp.__version__,
            "servers": {"total": len(servers), "healthy": healthy},
            "tools": len(gateway.catalog),
            "sessions": len(gateway.sessions),
            "dense_ready": gateway.router.dense_ready,
            "changed_definitions": len(gateway.pins.changed),
        }
    )


def build_http_app(
    gateway: Gateway,
    server: GatewayServer,
    *,
    host: str = "127.0.0.1",
    extra_routes: Sequence[RouteFactory] = (),
    middleware: Sequence[Any] = (),
) -> Starlette:
    if is_loopback(host):
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    else:
        # Behind a non-loopback bind every request already needs a bearer key.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]
    for factory in extra_routes:
        routes.extend(factory(gateway, server))
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=False,
        json_response=False,
        transport_security=security,
        host=host,
        max_request_body_size=gateway.config.http.max_body_bytes,
        custom_starlette_routes=list(routes),  # type: ignore[arg-type]
    )
    app.state.gateway = gateway
    for mw in middleware:
        app.add_middleware(mw[0], **mw[1])
    return app
