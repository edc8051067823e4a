"""UCP over HTTP: stateful streamable HTTP MCP at ``/mcp``, ``GET /healthz``, and the
REST, UTCP and service-registry routes, in one Starlette app served by uvicorn.

Binding rules (see DESIGN.md "Trust"): with no API key UCP serves on loopback
only, without auth; with keys every route but ``/healthz`` needs one (``/mcp``
included); a non-loopback bind without keys is refused before anything starts.
"""

from __future__ import annotations

import ipaddress

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ucp.errors import ConfigError
from ucp.frontend.auth import identity_in, metadata_routes
from ucp.frontend.context import Fronts as Fronts
from ucp.frontend.hostcheck import LoopbackHostOnly
from ucp.frontend.request_context import RequestContext
from ucp.frontend.routes import auth_middleware, build_routes
from ucp.frontend.server import build_mcp_server
from ucp.frontend.session_quota import SessionQuotaMiddleware


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, has_keys: bool) -> None:
    """Refuse to listen beyond loopback without auth (API keys or OAuth)."""
    if not is_loopback(host) and not has_keys:
        raise ConfigError(
            f"refusing to listen on {host} without authentication: anyone on the network could call every "
            "tool. Create an API key (`ucp keys create`), configure OAuth ([auth] resource and issuer) or bind "
            "127.0.0.1",
            field="http.host",
        )


async def healthz(request: Request) -> JSONResponse:
    fronts: Fronts = request.app.state.fronts
    health = fronts.admin.health()
    return JSONResponse(
        {
            "status": "ok",
            "version": health.version,
            "servers": {"total": health.servers_total, "healthy": health.servers_healthy},
            "tools": health.tools,
            "sessions": health.sessions,
            "dense_ready": health.dense_ready,
            "changed_definitions": health.changed_definitions,
        }
    )


def build_http_app(fronts: Fronts, *, host: str = "127.0.0.1") -> Starlette:
    """MCP at /mcp (stateful streamable HTTP), /healthz, and the REST / UTCP / registry routes,
    behind bearer auth and the body limit."""
    server = build_mcp_server(fronts.api, telemetry=fronts.telemetry)
    if is_loopback(host):
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    else:
        # Behind a non-loopback bind every request already needs a bearer key.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        *metadata_routes(fronts.authenticator().settings),  # OAuth protected-resource metadata (RFC 9728)
        *build_routes(fronts),
    ]
    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=False,
        json_response=False,
        transport_security=security,
        host=host,
        max_request_body_size=fronts.http.max_body_bytes,
        session_idle_timeout=fronts.http.session_idle_s,
        max_sessions=fronts.http.max_sessions,
        custom_starlette_routes=list(routes),  # type: ignore[arg-type]
    )
    app.state.fronts = fronts
    # innermost: it reads the identity the auth middleware (outside it) put in the scope
    app.add_middleware(
        SessionQuotaMiddleware,
        per_identity=fronts.http.max_sessions_per_identity,
        idle_s=fronts.http.session_idle_s,
        identity_of=identity_in,
    )
    for middleware, options in auth_middleware(fronts):
        app.add_middleware(middleware, **options)
    app.add_middleware(RequestContext, telemetry=fronts.telemetry)  # ids on auth's lines too
    if is_loopback(host):
        app.add_middleware(LoopbackHostOnly)  # outermost: a rebound name is refused before anything
    return app
