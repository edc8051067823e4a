"""The REST API (``/api/v1``): list, search and call tools; REST sessions and their context.

For scripts, dashboards and orchestrators that sit in front of a model. A REST
session is an ordinary UCP session (``transport="rest"``): what it searches,
calls and is told (``POST /sessions/{id}/context``) feeds its next ranking.
Calls validate the arguments against the tool's schema first.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ucp.frontend.auth import identity_of
from ucp.frontend.openapi import Call, Endpoint, Reply
from ucp.session.api import SearchResult as Found
from ucp.session.api import Session, ToolView
from ucp.session.text import one_line

SESSION_HEADER = "x-ucp-session"


# ---------------------------------------------------------------- models
class ToolInfo(BaseModel):
    name: str = Field(description="Exposed name (<server>__<tool>); call it with POST /api/v1/tools/call.")
    server: str
    description: str
    signature: str = Field(description="Compact argument signature, e.g. 'city: string, days?: integer'.")
    healthy: bool
    score: float | None = Field(None, description="Ranking score, when the list is ranked.")


class ToolsQuery(BaseModel):
    session_id: str | None = Field(
        None, description="Rank for this session's context (and record `context` in it)."
    )
    context: str | None = Field(None, max_length=4000, description="What the task is about, in plain words.")
    limit: int = Field(10, ge=1, le=200, description="Most tools in a ranked list.")
    server: str | None = Field(None, description="Only tools of this server.")


class ToolList(BaseModel):
    tools: list[ToolInfo]
    count: int
    ranked: bool = Field(description="False: every tool, by server and name. True: ranked by the context.")
    mode: str | None = None
    session_id: str | None = None


class SearchQuery(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="What you want to do, in plain words.")
    top_k: int = Field(5, ge=1, le=50)
    server: str | None = None
    session_id: str | None = Field(
        None, description="Record the search in this session (it feeds later rankings)."
    )


class SearchResult(BaseModel):
    query: str
    mode: str
    results: list[ToolInfo]
    session_id: str | None = None


class CallRequest(BaseModel):
    name: str = Field(min_length=1, description="Exposed tool name, e.g. toy__add.")
    arguments: dict[str, Any] = Field(default_factory=dict)
    session_id: str | None = Field(None, description="Else the X-UCP-Session header, else a new session.")


class CallResponse(BaseModel):
    is_error: bool
    content: list[dict[str, Any]]
    structured_content: dict[str, Any] | None = None
    session_id: str


class SessionCreate(BaseModel):
    client_name: str = Field("rest", max_length=200)
    context: str | None = Field(None, max_length=4000, description="Initial context of the session.")


class SessionInfo(BaseModel):
    id: str
    client: dict[str, str]
    protocol_version: str
    transport: str
    mode: str
    created_at: float
    last_seen: float
    history_length: int
    working_set: list[str] | None = None
    identity: str = Field("local", description="Who opened the session (its authenticated subject).")
    tenant: str = "default"


class ContextRequest(BaseModel):
    text: str = Field(min_length=1, max_length=4000, description="What the conversation is about now.")
    top_k: int = Field(5, ge=1, le=50, description="How many tools to suggest for the updated context.")


class ContextResponse(BaseModel):
    session_id: str
    history_length: int
    tools: list[ToolInfo] = Field(description="The tools ranked for the session's context after the update.")


class HistoryResponse(BaseModel):
    session_id: str
    history: list[dict[str, Any]]


# ---------------------------------------------------------------- helpers
def tool_info(view: ToolView) -> ToolInfo:
    return ToolInfo(
        name=view.name,
        server=view.server,
        description=one_line(view.description),
        signature=view.signature,
        healthy=view.healthy,
        score=view.score,
    )


def infos(found: Found) -> list[ToolInfo]:
    return [tool_info(v) for v in found.tools]


def session_info(session: Session) -> SessionInfo:
    return SessionInfo.model_validate(session.summary())


def session_of(call: Call, session_id: str | None, *, client: str = "rest") -> Session:
    """The named session, else the ``X-UCP-Session`` header's, else a new REST session."""
    api, identity = call.fronts.api, identity_of(call.request)
    session_id = session_id or call.request.headers.get(SESSION_HEADER)
    if session_id:
        return api.get(session_id, identity)
    return api.open(client_name=client, transport="rest", identity=identity)


def named_session(call: Call, session_id: str) -> Session:
    return call.fronts.api.get(session_id, identity_of(call.request))


# ---------------------------------------------------------------- handlers
async def list_tools(call: Call) -> ToolList:
    api, q = call.fronts.api, call.query
    assert isinstance(q, ToolsQuery)
    identity = identity_of(call.request)
    session = named_session(call, q.session_id) if q.session_id else None
    if session is not None and q.context:
        api.add_context(session, q.context)
    text = q.context or (session.context_text() if session else "")
    if not text.strip():
        tools = [tool_info(v) for v in api.tools(q.server, identity=identity)]
        return ToolList(tools=tools, count=len(tools), ranked=False, session_id=q.session_id)
    ranker = session or Session(transport="rest", identity=identity)
    found = await api.search(ranker, text, limit=q.limit, server=q.server, record=False)
    tools = infos(found)
    return ToolList(tools=tools, count=len(tools), ranked=True, mode=found.mode, session_id=q.session_id)


async def search_tools(call: Call) -> SearchResult:
    api, q = call.fronts.api, call.query
    assert isinstance(q, SearchQuery)
    if q.session_id:
        session = named_session(call, q.session_id)
    else:
        session = Session(transport="rest", identity=identity_of(call.request))
    found = await api.search(session, q.query, limit=q.top_k, server=q.server)
    return SearchResult(query=found.query, mode=found.mode, results=infos(found), session_id=q.session_id)


async def call_tool(call: Call) -> CallResponse:
    body = call.body
    assert isinstance(body, CallRequest)
    session = session_of(call, body.session_id)
    result = await call.fronts.api.call(session, body.name, body.arguments)
    return CallResponse(
        is_error=bool(result.is_error),
        content=[c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.content],
        structured_content=result.structured_content,
        session_id=session.id,
    )


async def create_session(call: Call) -> Reply:
    body = call.body
    assert isinstance(body, SessionCreate)
    api = call.fronts.api
    session = api.open(client_name=body.client_name, transport="rest", identity=identity_of(call.request))
    if body.context:
        api.add_context(session, body.context)
    return Reply(session_info(session), 201)


async def read_session(call: Call) -> SessionInfo:
    return session_info(named_session(call, call.params["session_id"]))


async def add_context(call: Call) -> ContextResponse:
    api, body = call.fronts.api, call.body
    assert isinstance(body, ContextRequest)
    session = named_session(call, call.params["session_id"])
    api.add_context(session, body.text)
    found = await api.search(session, session.context_text(), limit=body.top_k, record=False)
    return ContextResponse(session_id=session.id, history_length=len(session.history), tools=infos(found))


async def history(call: Call) -> HistoryResponse:
    session = named_session(call, call.params["session_id"])
    return HistoryResponse(session_id=session.id, history=[item.to_dict() for item in session.history])


TAG = "tools and sessions"
ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/v1/tools",
        list_tools,
        "List tools (every tool, or ranked by a session's context)",
        TAG,
        query=ToolsQuery,
        response=ToolList,
        errors=(404,),
    ),
    Endpoint(
        "GET",
        "/api/v1/tools/search",
        search_tools,
        "Search tools by what you want to do",
        TAG,
        query=SearchQuery,
        response=SearchResult,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/api/v1/tools/call",
        call_tool,
        "Call a tool (arguments are validated first)",
        TAG,
        body=CallRequest,
        response=CallResponse,
        errors=(400, 404),
        description="A downstream failure is an `is_error` result (200), not an HTTP error.",
    ),
    Endpoint(
        "POST",
        "/api/v1/sessions",
        create_session,
        "Create a REST session",
        TAG,
        body=SessionCreate,
        response=SessionInfo,
        status=201,
        errors=(400,),
    ),
    Endpoint(
        "GET",
        "/api/v1/sessions/{session_id}",
        read_session,
        "Read a session",
        TAG,
        response=SessionInfo,
        errors=(404,),
    ),
    Endpoint(
        "POST",
        "/api/v1/sessions/{session_id}/context",
        add_context,
        "Feed context to a session",
        TAG,
        body=ContextRequest,
        response=ContextResponse,
        errors=(400, 404),
    ),
    Endpoint(
        "GET",
        "/api/v1/sessions/{session_id}/history",
        history,
        "A session's searches, calls and context",
        TAG,
        response=HistoryResponse,
        errors=(404,),
    ),
]
