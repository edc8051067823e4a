"""/openapi.json: an OpenAPI 3.1 document generated from the endpoint declarations; every
route is documented, every $ref resolves, and the routes served are exactly the ones declared."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.routing import Route

import ucp
from ucp.frontend.openapi import build_document
from ucp.frontend.routes import build_routes, endpoints, openapi_document

EXPECTED = {
    ("get", "/api/v1/tools"),
    ("get", "/api/v1/tools/search"),
    ("post", "/api/v1/tools/call"),
    ("post", "/api/v1/sessions"),
    ("get", "/api/v1/sessions/{session_id}"),
    ("post", "/api/v1/sessions/{session_id}/context"),
    ("get", "/api/v1/sessions/{session_id}/history"),
    ("post", "/registry/services"),
    ("get", "/registry/services"),
    ("get", "/registry/services/{name}"),
    ("delete", "/registry/services/{name}"),
    ("get", "/registry/health"),
    ("get", "/utcp"),
    ("post", "/utcp/tools/{name}"),
    ("get", "/api/v1/cli/tools"),
    ("get", "/api/v1/cli/search"),
    ("get", "/api/v1/cli/tools/{name}"),
    ("post", "/api/v1/cli/call"),
    ("get", "/api/v1/cli/explain"),
    ("get", "/api/v1/cli/stats"),
    ("get", "/api/v1/analytics/usage"),
    ("get", "/api/v1/analytics/tools"),
    ("get", "/api/v1/analytics/router/performance"),
    ("get", "/api/v1/dashboard/overview"),
    ("get", "/api/v1/dashboard/explain"),
}
NOT_ENDPOINTS = {
    ("post", "/mcp"),
    ("get", "/mcp"),
    ("delete", "/mcp"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document(endpoints(), version=ucp.__version__)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref" and isinstance(v, str)] + [
            r for v in node.values() for r in _refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_route_is_documented(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == ucp.__version__
    ops = {(method, path) for path, item in document["paths"].items() for method in item}
    assert ops == EXPECTED
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))


def test_refs_resolve_and_models_are_schemas(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref
    call = document["paths"]["/api/v1/tools/call"]["post"]
    body_ref = call["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[body_ref.rsplit("/", 1)[1]]
    assert body["required"] == ["name"]
    assert set(body["properties"]) == {"name", "arguments", "session_id"}
    error = call["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/ErrorBody")
    assert "401" in call["responses"] and "413" in call["responses"]


def test_query_parameters_come_from_the_models(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/api/v1/tools/search"]["get"]["parameters"]}
    assert params["query"]["required"] is True
    assert params["top_k"]["schema"]["maximum"] == 50
    assert params["session_id"]["required"] is False
    path_params = document["paths"]["/registry/services/{name}"]["delete"]["parameters"]
    assert path_params == [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]


def test_served_routes_match_the_declarations() -> None:
    routes = [r for r in build_routes(None) if isinstance(r, Route)]  # type: ignore[arg-type]
    fallbacks = {r.path for r in routes if r.path.endswith("{rest:path}")}
    assert fallbacks == {"/api/{rest:path}", "/registry/{rest:path}", "/utcp/{rest:path}"}  # JSON 404/405
    served = {
        (m.lower(), r.path)
        for r in routes
        if r.path not in fallbacks
        for m in (r.methods or ())
        if m != "HEAD"
    }
    # plain routes outside the API: the document, the Prometheus exposition and the dashboard's files
    plain = {("get", "/openapi.json"), ("get", "/metrics"), ("get", "/ui"), ("get", "/ui/{path:path}")}
    assert served == EXPECTED | plain


def test_openapi_spec_validates(document: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)


def test_the_served_document_covers_every_route_including_mcp_and_healthz() -> None:
    """/openapi.json documents the MCP transport, /healthz (no key) and itself besides the endpoints."""
    document = openapi_document()
    ops = {(method, path) for path, item in document["paths"].items() for method in item}
    assert ops == EXPECTED | NOT_ENDPOINTS
    assert document["paths"]["/healthz"]["get"]["security"] == []
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)
