"""Build a UTCP manual (utcp_version 1.x) that points UTCP clients back at UCP.

Every tool becomes an ``http`` call template ``POST {base_url}/utcp/tools/{name}``
with the tool's arguments wrapped in a ``body`` field, so typed and nested
arguments survive (a flat ``inputs`` would send everything as query strings).
Used by ``GET /utcp`` and by the generated manuals shipped in ``manuals/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

UTCP_VERSION = "1.2.0"
CALL_TEMPLATE_NAME = "ucp"


def tool_entry(
    name: str,
    description: str,
    input_schema: Mapping[str, Any] | None,
    output_schema: Mapping[str, Any] | None,
    base_url: str,
    tags: Iterable[str] = (),
    auth_header: str | None = None,
) -> dict[str, Any]:
    """One UTCP tool whose call template posts ``{"body": arguments}`` back to UCP."""
    body_schema: dict[str, Any] = dict(input_schema or {"type": "object"})
    body_schema.setdefault("type", "object")
    template: dict[str, Any] = {
        "name": CALL_TEMPLATE_NAME,
        "call_template_type": "http",
        "http_method": "POST",
        "url": f"{base_url.rstrip('/')}/utcp/tools/{name}",
        "content_type": "application/json",
        "body_field": "body",
    }
    if auth_header:
        # ${ucp_API_KEY} resolves from the UTCP client's variables (namespaced by manual name).
        template["auth"] = {
            "auth_type": "api_key",
            "api_key": auth_header,
            "var_name": "Authorization",
            "location": "header",
        }
    return {
        "name": name,
        "description": description,
        "tags": sorted(set(tags)),
        "inputs": {"type": "object", "properties": {"body": body_schema}, "required": ["body"]},
        "outputs": dict(output_schema) if output_schema else {"type": "object"},
        "tool_call_template": template,
    }


def build_manual(
    tools: Iterable[dict[str, Any]], *, manual_version: str, base_url: str, auth_header: str | None = None
) -> dict[str, Any]:
    """A manual from dicts with ``name``, ``description``, ``input_schema``, optional
    ``output_schema`` and ``tags``. Tools are sorted by name so the output is stable."""
    entries = [
        tool_entry(
            t["name"],
            t.get("description") or "",
            t.get("input_schema"),
            t.get("output_schema"),
            base_url,
            t.get("tags", ()),
            auth_header,
        )
        for t in sorted(tools, key=lambda t: str(t["name"]))
    ]
    return {"utcp_version": UTCP_VERSION, "manual_version": manual_version, "tools": entries}
