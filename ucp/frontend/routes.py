"""HTTP routes beyond MCP (built from ``Endpoint`` declarations): the REST API, UTCP out, the service registry, ``/openapi.json``,
and the middleware that guards them all (authentication,
request body limit).

Routes are built from the ``Endpoint`` declarations of ``rest.py``,
``registry_routes.py`` and ``utcp_routes.py``: the query and the JSON body are
validated with the endpoint's pydantic models (422 ``invalid_request`` naming
the field), a ``UCPError`` becomes JSON ``{"error": {"code", "message",
"details"}}`` with the status of its class, and anything unexpected a 500
``internal_error`` (logged, never echoed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import ucp
from ucp.errors import UCPError
from ucp.frontend.auth import Authenticate
from ucp.frontend.cli_routes import ENDPOINTS as CLI_ENDPOINTS
from ucp.frontend.context import Fronts
from ucp.frontend.errors import error_response
from ucp.frontend.limits import BodyLimit
from ucp.frontend.observe_routes import ENDPOINTS as OBSERVE_ENDPOINTS
from ucp.frontend.observe_routes import build_observe_routes
from ucp.frontend.openapi import (
    SERVED_PATHS,
    Call,
    Endpoint,
    InvalidRequestError,
    Reply,
    build_document,
    read_json,
)
from ucp.frontend.registry_routes import ENDPOINTS as REGISTRY_ENDPOINTS
from ucp.frontend.rest import ENDPOINTS as REST_ENDPOINTS
from ucp.frontend.utcp_routes import ENDPOINTS as UTCP_ENDPOINTS
from ucp.log import get_logger

log = get_logger("ucp.frontend.api")


def endpoints() -> list[Endpoint]:
    return [*REST_ENDPOINTS, *REGISTRY_ENDPOINTS, *UTCP_ENDPOINTS, *CLI_ENDPOINTS, *OBSERVE_ENDPOINTS]


def _invalid(exc: ValidationError, where: str) -> InvalidRequestError:
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
        for e in exc.errors(include_url=False)[:10]
    ]
    first = errors[0] if errors else {"field": "", "problem": "invalid"}
    return InvalidRequestError(
        f"invalid {where}: field {first['field'] or '(root)'!r}: {first['problem']}",
        field=first["field"],
        errors=errors,
    )


def _render(result: Any, endpoint: Endpoint) -> Response:
    if isinstance(result, Response):
        return result
    status = endpoint.status
    if isinstance(result, Reply):
        result, status = result.model, result.status
    if isinstance(result, BaseModel):
        return JSONResponse(result.model_dump(mode="json"), status_code=status)
    return JSONResponse(result, status_code=status)


def to_route(endpoint: Endpoint, fronts: Fronts) -> Route:
    async def handle(request: Request) -> Response:
        try:
            call = Call(fronts=fronts, request=request, params=dict(request.path_params))
            if endpoint.query is not None:
                try:
                    call.query = endpoint.query.model_validate(dict(request.query_params))
                except ValidationError as exc:
                    raise _invalid(exc, "query") from None
            if endpoint.body is not None:
                data = await read_json(request, optional=not _required_fields(endpoint.body))
                try:
                    call.body = endpoint.body.model_validate(data)
                except ValidationError as exc:
                    raise _invalid(exc, "body") from None
            return _render(await endpoint.handler(call), endpoint)
        except UCPError as exc:
            return error_response(exc)
        except Exception:
            log.exception("http_handler_failed", method=endpoint.method, path=endpoint.path)
            return error_response(UCPError("internal error; see UCP's log"))

    return Route(endpoint.path, handle, methods=[endpoint.method], name=endpoint.operation_id)


def _required_fields(model: type[BaseModel]) -> bool:
    return any(f.is_required() for f in model.model_fields.values())


class NotFoundError(UCPError):
    code = "not_found"
    http_status = 404


class MethodNotAllowedError(UCPError):
    code = "method_not_allowed"
    http_status = 405


_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def openapi_document() -> dict[str, Any]:
    """The document /openapi.json serves: every Endpoint, plus /mcp, /healthz and itself."""
    return build_document(endpoints(), version=ucp.__version__, extra_paths=SERVED_PATHS)


def build_routes(fronts: Fronts) -> list[BaseRoute]:
    eps = endpoints()
    document = openapi_document()
    routes = [to_route(ep, fronts) for ep in eps]

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def fallback(request: Request) -> Response:
        """Unknown paths and methods under UCP's prefixes answer JSON errors too."""
        allowed = sorted(
            {m for r in routes if r.path_regex.match(request.url.path) for m in (r.methods or ())}
        )
        if allowed:
            response = error_response(
                MethodNotAllowedError(
                    f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}",
                    allowed=allowed,
                )
            )
            response.headers["allow"] = ", ".join(allowed)
            return response
        return error_response(
            NotFoundError(f"no route {request.url.path}; see /openapi.json", path=request.url.path)
        )

    fallbacks = [
        Route(f"/{prefix}/{{rest:path}}", fallback, methods=_METHODS)
        for prefix in ("api", "registry", "utcp")
    ]
    return [*routes, Route("/openapi.json", openapi, methods=["GET"]), *build_observe_routes(), *fallbacks]


def auth_middleware(fronts: Fronts) -> list[tuple[Any, dict[str, Any]]]:
    """Innermost first: the body limit, then authentication around everything (added last = outermost)."""
    middleware: Sequence[tuple[Any, dict[str, Any]]] = (
        (BodyLimit, {"max_bytes": fronts.http.max_body_bytes, "body_timeout": fronts.http.body_timeout}),
        (Authenticate, {"authenticator": fronts.authenticator(), "on_denied": fronts.on_auth_denied}),
    )
    return list(middleware)
