"""UTCP out: ``GET /utcp`` serves a UTCP manual of every tool UCP fronts, and
``POST /utcp/tools/{name}`` is the call template each of them points back at.

Each tool's call template posts its arguments as the JSON body (UTCP ``body_field``
``body``), so types survive. The base URL written into the manual is ``[http]
public_url`` or the one the request came in on. With API keys configured, the
templates carry ``Authorization: Bearer ${API_KEY}``: a UTCP client that
registers the manual as ``ucp`` sets the variable ``ucp_API_KEY``. A call
answers the tool's structured result as JSON, or its text as text/plain; an
``is_error`` result is an HTTP error (JSON body with a stable code) so UTCP
clients raise it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import mcp_types as types
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, PlainTextResponse, Response

import ucp
from ucp.errors import (
    DownstreamBusyError,
    DownstreamError,
    DownstreamProtocolError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from ucp.frontend.auth import identity_of
from ucp.frontend.openapi import Call, Endpoint, InvalidJsonError, read_json
from ucp.frontend.rest import SESSION_HEADER
from ucp.frontend.utcp_manual import build_manual
from ucp.session.api import Session

AUTH_HEADER = "Bearer ${API_KEY}"
_STATUS = {
    c.code: c.http_status
    for c in (
        DownstreamError,
        DownstreamUnavailableError,
        DownstreamTimeoutError,
        DownstreamBusyError,
        DownstreamProtocolError,
    )
}
_SCALARS = {
    "title": str,
    "description": str,
    "format": str,
    "pattern": str,
    "$schema": str,
    "$id": str,
    "minLength": int,
    "maxLength": int,
}


class UtcpManualDoc(BaseModel):
    """A UTCP manual (https://www.utcp.io): every tool with an ``http`` call template back to UCP."""

    utcp_version: str
    manual_version: str
    tools: list[dict[str, Any]] = Field(
        description="UTCP tools: name, description, tags, inputs, outputs, tool_call_template."
    )


def utcp_schema(schema: Any) -> dict[str, Any]:
    """A JSON schema the UTCP ``JsonSchema`` model accepts (boolean schemas and malformed keywords
    would make a UTCP client reject the whole manual)."""
    if schema is True or not isinstance(schema, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            if isinstance(value, dict):
                out[key] = {
                    str(k): utcp_schema(v) if v is not False else {"not": {}} for k, v in value.items()
                }
        elif key == "items":
            if isinstance(value, list):
                out[key] = [utcp_schema(v) for v in value]
            elif isinstance(value, (dict, bool)):
                out[key] = utcp_schema(value) if value is not False else {"not": {}}
        elif key == "additionalProperties":
            out[key] = value if isinstance(value, bool) else utcp_schema(value)
        elif key == "required":
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[key] = value
        elif key == "type":
            if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                out[key] = value
        elif key in ("enum", "examples"):
            if isinstance(value, list):
                out[key] = value
        elif key in ("minimum", "maximum"):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = value
        elif key in _SCALARS:
            if isinstance(value, _SCALARS[key]) and not isinstance(value, bool):
                out[key] = value
        else:
            out[key] = value
    return out


def manual(call: Call) -> dict[str, Any]:
    fronts = call.fronts
    base = fronts.http.public_url or str(call.request.base_url)
    tools = []
    views = fronts.api.tools(identity=identity_of(call.request))
    for view in views:
        output = view.output_schema if (view.output_schema or {}).get("type") == "object" else None
        tools.append(
            {
                "name": view.name,
                "description": view.description,
                "input_schema": utcp_schema(view.input_schema),
                "output_schema": utcp_schema(output) if output else None,
                "tags": [view.server, *view.tags],
            }
        )
    keys = fronts.authenticator().enabled
    digest = hashlib.sha256(json.dumps(tools, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return build_manual(
        tools,
        manual_version=f"{ucp.__version__}+{digest}",
        base_url=base,
        auth_header=AUTH_HEADER if keys else None,
    )


async def get_manual(call: Call) -> Response:
    return JSONResponse(manual(call))


def _session(call: Call) -> Session:
    session_id = call.request.headers.get(SESSION_HEADER)
    identity = identity_of(call.request)
    if session_id:
        return call.fronts.api.get(session_id, identity)
    return Session(transport="utcp", identity=identity)


def _error(result: types.CallToolResult, name: str) -> Response:
    meta = (result.meta or {}).get("ucp/error")
    info = meta if isinstance(meta, dict) else {}
    code = str(info.get("code") or "tool_error")
    text = " ".join(c.text for c in result.content if isinstance(c, types.TextContent)) or f"{name} failed"
    details = {k: v for k, v in info.items() if k != "code"}
    status = _STATUS.get(code, 422)
    return JSONResponse(
        {"error": {"code": code, "message": text[:4000], "details": {"tool": name, **details}}},
        status_code=status,
    )


async def call_tool(call: Call) -> Response:
    name = call.params["name"]
    args = await read_json(call.request, optional=True)
    if not isinstance(args, dict):
        raise InvalidJsonError(f"the body must be a JSON object of {name}'s arguments")
    result = await call.fronts.api.call(_session(call), name, args)
    if result.is_error:
        return _error(result, name)
    if result.structured_content is not None:
        return JSONResponse(result.structured_content)
    if all(isinstance(c, types.TextContent) for c in result.content):
        return PlainTextResponse(
            "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))
        )
    return JSONResponse(
        {"content": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in result.content]}
    )


TAG = "utcp"
ENDPOINTS = [
    Endpoint(
        "GET", "/utcp", get_manual, "The UTCP manual of every tool UCP fronts", TAG, response=UtcpManualDoc
    ),
    Endpoint(
        "POST",
        "/utcp/tools/{name}",
        call_tool,
        "Call a tool (the manual's call templates point here)",
        TAG,
        body_doc={"type": "object", "description": "The tool's arguments.", "additionalProperties": True},
        response_doc={
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
        },
        errors=(400, 404, 502, 503, 504),
        description="200: the structured result (JSON) or the text (text/plain). An `is_error` result is "
        "answered as an error with its stable code.",
    ),
]
