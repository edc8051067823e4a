"""The CLI's routes (``/api/v1/cli/...``): what ``ucp tools``, ``ucp route explain`` and
``ucp stats`` ask a running ``ucp serve`` instead of starting every server themselves.

Each answers exactly what the command prints (the row builders below are shared with the
commands' in-process path, so both paths print the same), and learning is recorded where
the gateway records it: calls and searches feed the running router, ``stats`` reads the
learner the server holds (saved first), so there is one learning state, not one per command.
Like a host's first ``tools/list``, each waits until every server is listed (at most the
configured ``initial_wait``) when the gateway has just started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ucp.errors import PolicyDeniedError
from ucp.frontend.auth import identity_of
from ucp.frontend.openapi import Call, Endpoint
from ucp.session.text import one_line

if TYPE_CHECKING:
    from ucp.session.api import ToolView


# ---------------------------------------------------------------- rows (shared with the CLI)
def tool_row(v: ToolView) -> dict[str, Any]:
    return {
        "name": v.name,
        "server": v.server,
        "tool": v.tool,
        "description": v.description,
        "signature": v.signature,
        "input_schema": v.input_schema,
    }


def search_row(v: ToolView) -> dict[str, Any]:
    return {
        "name": v.name,
        "server": v.server,
        "score": v.score,
        "signature": v.signature,
        "description": one_line(v.description),
    }


def describe_row(v: ToolView) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": v.name,
        "server": v.server,
        "description": v.description,
        "input_schema": v.input_schema,
    }
    if v.output_schema:
        data["output_schema"] = v.output_schema
    if v.annotations:
        data["annotations"] = v.annotations
    if v.flagged:
        data["warning"] = "this tool's definition changed since UCP first saw it (ucp trust approve)"
    return data


# ---------------------------------------------------------------- models
class ServerQuery(BaseModel):
    server: str | None = Field(None, description="Only this server's tools.")


class ToolRows(BaseModel):
    tools: list[dict[str, Any]]


class RankQuery(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    limit: int = Field(5, ge=1, le=100)
    server: str | None = None


class SearchRows(BaseModel):
    query: str
    mode: str
    results: list[dict[str, Any]]


class CliCallRequest(BaseModel):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class CliCallResponse(BaseModel):
    result: dict[str, Any] = Field(description="The MCP CallToolResult, as on the wire.")


class ExplainRows(BaseModel):
    query: str
    mode: str
    rows: list[dict[str, Any]]


class StatsQuery(BaseModel):
    days: int = Field(14, ge=1, le=3650)


class LearningStats(BaseModel):
    tools: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    events: int
    path: str | None


# ---------------------------------------------------------------- handlers
async def tools(call: Call) -> ToolRows:
    await call.fronts.api.ready()
    q = call.query
    assert isinstance(q, ServerQuery)
    views = call.fronts.api.tools(q.server, identity=identity_of(call.request))
    return ToolRows(tools=[tool_row(v) for v in views])


async def search(call: Call) -> SearchRows:
    api, q = call.fronts.api, call.query
    await api.ready()
    assert isinstance(q, RankQuery)
    session = api.open(
        client_name="ucp-cli", transport="cli", register=False, identity=identity_of(call.request)
    )
    found = await api.search(session, q.query, limit=q.limit, server=q.server, record=False)
    return SearchRows(query=q.query, mode=found.mode, results=[search_row(v) for v in found.tools])


async def describe(call: Call) -> dict[str, Any]:
    api = call.fronts.api
    await api.ready()
    session = api.open(transport="cli", register=False, identity=identity_of(call.request))
    return describe_row(api.describe(session, call.params["name"]))


async def call_tool(call: Call) -> CliCallResponse:
    api, body = call.fronts.api, call.body
    assert isinstance(body, CliCallRequest)
    await api.ready()
    session = api.open(client_name="ucp-cli", transport="cli", identity=identity_of(call.request))
    try:
        result = await api.call(session, body.name, body.arguments)
    finally:
        api.close(session.id)
    return CliCallResponse(result=result.model_dump(mode="json", by_alias=True, exclude_none=True))


def _operator_only(call: Call, what: str) -> None:
    """Rankings over the whole catalog and learning stats are the operator's (they name every tool)."""
    identity = identity_of(call.request)
    if call.fronts.may_administer is not None and not call.fronts.may_administer(identity):
        raise PolicyDeniedError(f"{what} needs a role with admin = true", rule="policy.roles.admin")


async def explain(call: Call) -> ExplainRows:
    _operator_only(call, "ranking explanations")
    await call.fronts.api.ready()
    q = call.query
    assert isinstance(q, RankQuery)
    rows, mode = await call.fronts.admin.explain(q.query.strip(), limit=q.limit, server=q.server)
    return ExplainRows(query=q.query, mode=mode, rows=rows)


async def stats(call: Call) -> LearningStats:
    _operator_only(call, "learning stats")
    q = call.query
    assert isinstance(q, StatsQuery)
    return LearningStats(**await call.fronts.admin.learning(q.days))


TAG = "command line"
ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/cli/tools",
        tools,
        "Every tool (ucp tools list)",
        TAG,
        query=ServerQuery,
        response=ToolRows,
    ),
    Endpoint(
        "GET",
        "/api/v1/cli/search",
        search,
        "Rank tools without recording the ranking (ucp tools search)",
        TAG,
        query=RankQuery,
        response=SearchRows,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        "/api/v1/cli/tools/{name}",
        describe,
        "A tool's full definition (ucp tools describe)",
        TAG,
        errors=(404,),
        response_doc={"application/json": {"schema": {"type": "object"}}},
    ),
    Endpoint(
        "POST",
        "/api/v1/cli/call",
        call_tool,
        "Call a tool in a one-call session (ucp tools call)",
        TAG,
        body=CliCallRequest,
        response=CliCallResponse,
        errors=(404, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/cli/explain",
        explain,
        "BM25, dense, prior and fused scores of the top tools (ucp route explain)",
        TAG,
        query=RankQuery,
        response=ExplainRows,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        "/api/v1/cli/stats",
        stats,
        "What the router learned, saved first (ucp stats)",
        TAG,
        query=StatsQuery,
        response=LearningStats,
    ),
]
