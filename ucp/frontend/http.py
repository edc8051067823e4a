"""UCP over HTTP: stateful streamable HTTP MCP at ``/mcp``, ``GET /healthz`` (liveness),
``GET /readyz`` (readiness, ``lifecycle.py``), and the REST, UTCP and service-registry routes,
in one Starlette app served by uvicorn.

A replica on a shared store (``Fronts.replica``) serves any session's request: its MCP session
manager resumes sessions other replicas opened (``resume.py``), session state is read from and
written to the store (``sessions.py``), and the other replicas' changes reach this replica's
streams (``notify.py``, ``ucp.frontend.fanout``).

Binding rules (see DESIGN.md "Trust"): with no API key UCP serves on loopback
only, without auth; with keys every route but ``/healthz`` needs one (``/mcp``
included); a non-loopback bind without keys is refused before anything starts.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ucp.errors import ConfigError
from ucp.frontend.auth import identity_in, metadata_routes
from ucp.frontend.context import Fronts as Fronts
from ucp.frontend.hostcheck import LoopbackHostOnly
from ucp.frontend.lifecycle import Drain, Lifecycle, readyz
from ucp.frontend.notify import Notifier
from ucp.frontend.request_context import RequestContext
from ucp.frontend.resume import ResumingSessionManager
from ucp.frontend.routes import auth_middleware, build_routes
from ucp.frontend.server import build_mcp_server
from ucp.frontend.session_quota import SessionQuotaMiddleware
from ucp.frontend.sessions import adopt, may_resume
from ucp.session.api import Session
from ucp.session.snapshot import SessionStore


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


def _subscriptions_refresher(store: SessionStore) -> Any:
    async def refresh(session: Session) -> None:
        snapshot = await store.load(session.id)
        if snapshot is not None:
            session.subscriptions = set(snapshot.get("subscriptions", ()))

    return refresh


def lifecycle_for(fronts: Fronts) -> Lifecycle:
    """The front's drain state and readiness checks (the catalog, the shared store when there is one)."""
    if fronts.lifecycle is not None:
        return fronts.lifecycle
    if "lifecycle" not in fronts._built:
        fronts._built["lifecycle"] = Lifecycle(
            drain_s=fronts.http.drain_s,
            store_ping=fronts.replica.ping if fronts.replica is not None else None,
            catalog_loaded=lambda: fronts.admin.health().catalog_loaded,
            store_required=fronts.http.ready_requires_store,
        )
        if fronts.replica is not None:
            fronts._built["lifecycle"].on_drained.append(fronts.replica.deregister)
    built: Lifecycle = fronts._built["lifecycle"]
    return built


def build_http_app(fronts: Fronts, *, host: str = "127.0.0.1") -> Starlette:
    """MCP at /mcp (stateful streamable HTTP), /healthz, /readyz, and the REST / UTCP / registry
    routes, behind bearer auth and the body limit."""
    replica = fronts.replica
    store = replica.store if replica is not None else None
    notifier = None
    if replica is not None and store is not None:
        notifier = Notifier(
            fronts.api.events,
            remote=replica.fanout.remote if replica.fanout is not None else None,
            refresh=_subscriptions_refresher(store),
        )
    server = build_mcp_server(fronts.api, telemetry=fronts.telemetry, store=store, notifier=notifier)
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
        Route("/readyz", readyz, methods=["GET"]),
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
    if store is not None:
        api = fronts.api
        ResumingSessionManager.replacing(
            app,
            server,
            store,
            on_resumed=lambda delivery, conn, snapshot: adopt(api, delivery, conn, snapshot),
            may_resume=may_resume,  # another identity's session id answers 404, as the SDK's own does
        )
    lifecycle = lifecycle_for(fronts)
    app.state.fronts = fronts
    app.state.lifecycle = lifecycle
    # innermost: it reads the identity the auth middleware (outside it) put in the scope
    app.add_middleware(
        SessionQuotaMiddleware,
        per_identity=fronts.http.max_sessions_per_identity,
        idle_s=fronts.http.session_idle_s,
        identity_of=identity_in,
    )
    for middleware, options in auth_middleware(fronts):
        app.add_middleware(middleware, **options)
    app.add_middleware(Drain, lifecycle=lifecycle)  # before auth: a draining replica refuses at once
    app.add_middleware(RequestContext, telemetry=fronts.telemetry)  # ids on auth's lines too
    if is_loopback(host):
        app.add_middleware(LoopbackHostOnly)  # outermost: a rebound name is refused before anything
    return app
