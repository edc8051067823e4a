"""The endpoint contract of UCP's HTTP API, and the OpenAPI 3.1 document built from it.

Every REST, registry and UTCP route is declared once as an ``Endpoint``: method,
path, handler and the pydantic models of its query, body and response. ``api.py``
builds the Starlette routes from the same declarations (parsing and validating
with those models), and ``build_document`` writes ``/openapi.json`` from them,
so the document cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from ucp.errors import UCPError
from ucp.safeparse import DocumentError, load_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from ucp.frontend.context import Fronts


class InvalidRequestError(UCPError):
    """The query or body does not match the endpoint's model; ``details.field`` names the field."""

    code = "invalid_request"
    http_status = 422


class InvalidJsonError(UCPError):
    code = "invalid_json"
    http_status = 400


async def read_json(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return {}
        raise InvalidJsonError("the request needs a JSON body")
    try:
        return load_json(raw)  # bounded: a 5,000-digit number or deep nesting is a 400, not a 500
    except DocumentError as exc:
        raise InvalidJsonError(f"the body is not valid JSON: {exc}", reason=exc.reason) from None


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable error code (assert on it, never on the message).")
    message: str = Field(description="What failed and what to do.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Structured context (field, server, reason...)."
    )


class ErrorBody(BaseModel):
    """Every error UCP's HTTP API answers."""

    error: ErrorInfo


@dataclass
class Call:
    """One request to an endpoint, with its query and body already validated."""

    fronts: Fronts
    request: Request
    params: dict[str, str]
    query: Any = None
    body: Any = None


@dataclass(frozen=True)
class Reply:
    """A response model with a status other than the endpoint's default."""

    model: BaseModel
    status: int


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    description: str = ""
    body_doc: dict[str, Any] | None = None  # a free-form body (no model), documented as this schema
    response_doc: dict[str, Any] | None = None  # extra response media types, e.g. text/plain
    extra_statuses: tuple[int, ...] = field(default=())  # other success statuses (same model)

    @property
    def operation_id(self) -> str:
        words = re.sub(r"[{}]", "", self.path).strip("/").replace("/", "_").replace("-", "_")
        return f"{self.method.lower()}_{words or 'root'}"


_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted (registered; not reachable yet)",
    400: "Bad request",
    401: "Missing or invalid bearer API key",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    421: "Host or Origin not allowed",
    422: "Invalid request",
    500: "Internal error",
    502: "Downstream error",
    503: "Downstream unavailable",
    504: "Downstream timeout",
}
_COMMON_ERRORS = (401, 413, 422)


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    out = []
    for name, prop in props.items():
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            param["description"] = prop["description"]
        out.append(param)
    return out


def _op(operation_id: str, summary: str, description: str, *, auth: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["mcp and health"],
        "responses": {"200": {"description": "OK"}},
    }
    if auth:
        op["responses"]["401"] = {"description": _STATUS_TEXT[401]}
    else:
        op["security"] = []
    return op


_MCP = (
    "Streamable HTTP MCP (stateful, `Mcp-Session-Id`), both protocol eras (the 2025 handshake and "
    "2026-07-28). JSON-RPC in and out; see the MCP specification, not this document, for the messages."
)
# Routes that are not Endpoint declarations: MCP (the SDK's transport), the probes and this document.
SERVED_PATHS: dict[str, dict[str, Any]] = {
    "/mcp": {
        "post": _op("post_mcp", "Send MCP JSON-RPC messages", _MCP),
        "get": _op("get_mcp", "Open the server-to-client SSE stream (notifications)", _MCP),
        "delete": _op("delete_mcp", "End the MCP session", _MCP),
    },
    "/healthz": {
        "get": _op(
            "get_healthz",
            "Liveness: version, server and tool counts, whether dense retrieval is ready",
            "Never needs a key.",
            auth=False,
        )
    },
    "/readyz": {
        "get": _op(
            "get_readyz",
            "Readiness: 200 when the catalog is loaded, the shared store answers and the replica is not "
            "draining; else 503 with the failing checks",
            "Never needs a key.",
            auth=False,
        )
    },
    "/openapi.json": {"get": _op("get_openapi_json", "This document", "OpenAPI 3.1 of every route.")},
}


def build_document(
    endpoints: Sequence[Endpoint],
    *,
    version: str,
    title: str = "UCP HTTP API",
    extra_paths: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An OpenAPI 3.1 document for ``endpoints`` (schemas generated from their pydantic models)."""
    keys: list[tuple[type[BaseModel], Any]] = [(ErrorBody, "serialization")]
    for ep in endpoints:
        if ep.body is not None:
            keys.append((ep.body, "validation"))
        if ep.response is not None:
            keys.append((ep.response, "serialization"))
    keys = list(dict.fromkeys(keys))
    refs, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}")
    error_ref = refs[(ErrorBody, "serialization")]
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        op: dict[str, Any] = {"operationId": ep.operation_id, "summary": ep.summary, "tags": [ep.tag]}
        if ep.description:
            op["description"] = ep.description
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in re.findall(r"{(\w+)}", ep.path)
        ]
        if ep.query is not None:
            params += _query_parameters(ep.query)
        if params:
            op["parameters"] = params
        if ep.body is not None or ep.body_doc is not None:
            schema = refs[(ep.body, "validation")] if ep.body is not None else ep.body_doc
            op["requestBody"] = {
                "required": ep.body is None,
                "content": {"application/json": {"schema": schema}},
            }
        responses: dict[str, Any] = {}
        for status in (ep.status, *ep.extra_statuses):
            content: dict[str, Any] = {}
            if ep.response is not None:
                content["application/json"] = {"schema": refs[(ep.response, "serialization")]}
            content.update(ep.response_doc or {})
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "OK"),
                **({"content": content} if content else {}),
            }
        for status in sorted({*ep.errors, *_COMMON_ERRORS}):
            responses[str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": error_ref}},
            }
        op["responses"] = responses
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    for path, item in (extra_paths or {}).items():
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "REST, service-registry and UTCP routes of UCP. MCP (streamable HTTP) is served at /mcp. "
                "With API keys configured every route but /healthz needs `Authorization: Bearer <key>`. "
                'Errors are JSON `{"error": {"code", "message", "details"}}` with a stable code.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A UCP API key."}
            },
        },
        "security": [{"bearer": []}, {}],
    }
