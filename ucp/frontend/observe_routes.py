"""What an operator sees over HTTP: ``/metrics``, the analytics API, the dashboard's data and ``/ui``.

``/metrics`` is the Prometheus exposition of the gateway's own registry. The
analytics (``/api/v1/analytics/*``) and the dashboard's data
(``/api/v1/dashboard/*``) are ``Endpoint`` declarations like the rest of the
API, so ``/openapi.json`` documents them and their queries are validated the
same way; they read the telemetry the composition root put in ``Fronts`` and the
``AdminAPI`` (servers, services, trust flags, the router's explain). ``/ui`` is
the dashboard itself: static files shipped in ``ui/`` (vendored Cytoscape.js
and Chart.js with their licences; no build step), which poll the dashboard
endpoints. Everything here is behind the same bearer auth as the API; only the
static shell of ``/ui`` is open (it holds no data and asks for the key).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ucp.frontend.openapi import Call, Endpoint
from ucp.observe.metrics import CONTENT_TYPE

UI_DIR = Path(__file__).parent / "ui"
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
RATE_WINDOW_S = 300.0
TAG = "analytics"
DASH = "dashboard"


# ---------------------------------------------------------------- models
class UsageQuery(BaseModel):
    start_date: date | None = Field(
        None, description="First UTC day (YYYY-MM-DD); default 29 days before the end."
    )
    end_date: date | None = Field(
        None, description="Last UTC day, inclusive; default today. At most 366 days."
    )


class DayUsage(BaseModel):
    day: str
    calls: int
    errors: int
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


class ServerUsage(DayUsage):
    day: str = ""
    server: str


class UsageReport(BaseModel):
    start_date: str
    end_date: str
    total_calls: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    days: list[DayUsage]
    servers: list[ServerUsage]
    truncated: bool = Field(description="True when the range held more calls than one query reads.")


class ToolsQuery(BaseModel):
    top_k: int = Field(10, ge=1, le=100, description="How many of the most-called tools.")


class ToolUsage(BaseModel):
    name: str
    server: str
    tool: str
    calls: int
    errors: int
    error_rate: float
    avg_ms: float
    last_called: float
    shown: int = Field(description="Times the router showed it in a ranking (learning store).")
    called_after_search: int
    explored: int = Field(description="Times it was shown as an exploration slot.")


class ToolsReport(BaseModel):
    top_k: int
    tools: list[ToolUsage]


class RouterQuery(BaseModel):
    days: int = Field(30, ge=1, le=366)


class RouterReport(BaseModel):
    days: int
    rankings: int
    hits: int = Field(description="Rankings followed by a call of a tool they showed.")
    hit_rate: float | None
    hit_rate_at: dict[str, float | None] = Field(
        description="Share of rankings whose first hit was at rank <= k."
    )
    first_hit_rank: dict[str, int]
    exploration: dict[str, float | int | None]
    daily: list[dict[str, Any]]
    truncated: bool


class Overview(BaseModel):
    generated_at: float
    version: str
    health: dict[str, Any]
    nodes: list[dict[str, Any]] = Field(description="UCP, each downstream and each self-registered service.")
    edges: list[dict[str, Any]] = Field(description="UCP to each server; `rate` is calls per minute (5 min).")
    servers: list[dict[str, Any]]
    services: list[dict[str, Any]]
    calls_by_tool: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    router: dict[str, Any]
    trust_flags: list[dict[str, Any]]
    cloud_savings: dict[str, Any]


class ExplainQuery(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    limit: int = Field(10, ge=1, le=50)
    server: str | None = None


class Explained(BaseModel):
    query: str
    mode: str
    results: list[dict[str, Any]] = Field(description="Ranked tools with score, bm25, dense, prior, fused.")


# ---------------------------------------------------------------- handlers
async def usage(call: Call) -> UsageReport:
    q: UsageQuery = call.query
    return UsageReport.model_validate(call.fronts.telemetry.analytics.usage(q.start_date, q.end_date))


async def tools(call: Call) -> ToolsReport:
    return ToolsReport.model_validate(call.fronts.telemetry.analytics.tools(call.query.top_k))


async def router_performance(call: Call) -> RouterReport:
    return RouterReport.model_validate(call.fronts.telemetry.analytics.router_performance(call.query.days))


def _health_colour(state: str, healthy: bool) -> str:
    if healthy:
        return "up"
    return "starting" if state in ("starting", "restarting") else "down"


async def overview(call: Call) -> Overview:
    admin = call.fronts.admin
    tel = call.fronts.telemetry
    health = admin.health()
    servers = admin.servers()
    services = admin.services()
    service_names = {str(s.get("name")) for s in services}
    recent = tel.analytics.calls_since(RATE_WINDOW_S)
    per_server: dict[str, int] = {}
    for row in recent:
        per_server[row["server"]] = per_server.get(row["server"], 0) + row["calls"]
    nodes: list[dict[str, Any]] = [
        {"id": "ucp", "label": "UCP", "kind": "ucp", "health": "up", "tools": health.tools}
    ]
    edges = []
    for s in servers:
        name = str(s["name"])
        kind = (
            "service"
            if name in service_names
            else ("builtin" if s.get("source") == "builtin" else "downstream")
        )
        nodes.append(
            {
                "id": f"s:{name}",
                "label": name,
                "kind": kind,
                "health": _health_colour(str(s.get("state", "")), bool(s.get("healthy"))),
                "state": s.get("state"),
                "tools": s.get("tools", 0),
            }
        )
        rate = per_server.get(name, 0) / (RATE_WINDOW_S / 60)
        edges.append(
            {"source": "ucp", "target": f"s:{name}", "rate": round(rate, 3), "calls": per_server.get(name, 0)}
        )
    metrics = tel.metrics
    flags = [{"tool": k, **v} for k, v in admin.changed_definitions().items()]
    return Overview(
        generated_at=time.time(),
        version=health.version,
        health={
            "servers_total": health.servers_total,
            "servers_healthy": health.servers_healthy,
            "tools": health.tools,
            "sessions": health.sessions,
            "dense_ready": health.dense_ready,
            "changed_definitions": health.changed_definitions,
        },
        nodes=nodes,
        edges=edges,
        servers=servers,
        services=services,
        calls_by_tool=recent if recent else [],
        timeline=tel.analytics.timeline(),
        router={
            "searches": sum(
                metrics.value("ucp_searches_total", {"mode": m}) for m in ("hybrid", "bm25", "dense")
            ),
            "followed": metrics.value("ucp_router_searches_followed_total"),
            "hit_rate_at": {k: metrics.value("ucp_router_hit_rate", {"k": k}) for k in ("1", "3", "5", "10")},
            "exploration_share": metrics.value("ucp_router_exploration_share"),
        },
        trust_flags=flags,
        cloud_savings=tel.savings.to_dict(),
    )


async def explain(call: Call) -> Explained:
    q: ExplainQuery = call.query
    rows, mode = await call.fronts.admin.explain(q.query, limit=q.limit, server=q.server)
    return Explained(query=q.query, mode=mode, results=rows)


ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "GET",
        "/api/v1/analytics/usage",
        usage,
        "Calls per day and per server, error rates and latency percentiles",
        TAG,
        query=UsageQuery,
        response=UsageReport,
        errors=(400,),
    ),
    Endpoint(
        "GET",
        "/api/v1/analytics/tools",
        tools,
        "The most-called tools, with error rates, latency and the router's view of them",
        TAG,
        query=ToolsQuery,
        response=ToolsReport,
    ),
    Endpoint(
        "GET",
        "/api/v1/analytics/router/performance",
        router_performance,
        "How well the router does: hit rate (at k, per day) and exploration",
        TAG,
        query=RouterQuery,
        response=RouterReport,
    ),
    Endpoint(
        "GET",
        "/api/v1/dashboard/overview",
        overview,
        "Everything the dashboard shows at once: service graph, calls, router, trust flags, savings",
        DASH,
        response=Overview,
    ),
    Endpoint(
        "GET",
        "/api/v1/dashboard/explain",
        explain,
        "The router's ranking for a query with each score's breakdown (ucp route explain)",
        DASH,
        query=ExplainQuery,
        response=Explained,
    ),
]


# ---------------------------------------------------------------- plain routes
def build_observe_routes() -> list[BaseRoute]:
    async def metrics(request: Request) -> Response:
        telemetry = request.app.state.fronts.telemetry
        if not telemetry.settings.metrics:
            return JSONResponse(
                {
                    "error": {
                        "code": "not_found",
                        "message": "metrics are off ([telemetry] metrics)",
                        "details": {},
                    }
                },
                status_code=404,
            )
        return Response(telemetry.metrics.render(), media_type=CONTENT_TYPE)

    async def ui_root(request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=307)

    async def ui_file(request: Request) -> Response:
        rel = request.path_params.get("path") or "index.html"
        target = (UI_DIR / rel).resolve()
        if not target.is_relative_to(UI_DIR.resolve()) or not target.is_file():
            return JSONResponse(
                {
                    "error": {
                        "code": "not_found",
                        "message": f"no file {rel!r} in the dashboard",
                        "details": {},
                    }
                },
                status_code=404,
            )
        response = FileResponse(target)
        response.headers["content-security-policy"] = UI_CSP
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["cache-control"] = "no-cache"
        return response

    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/ui", ui_root, methods=["GET"]),
        Route("/ui/{path:path}", ui_file, methods=["GET"]),
    ]
