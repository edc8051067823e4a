"""Repairing what downstreams send, before the strict MCP client sees it.

The MCP SDK 2.x client validates every result against the protocol schema: one
tool with ``inputSchema: {}`` makes the whole ``tools/list`` raise. A gateway
cannot let one bad tool hide the others, so results are repaired on the raw
JSON, in a transport wrapper, with a warning per repair. Pure functions here;
``mcp.py`` applies them to the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Warn = Callable[..., None]

_SCHEMA_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


def repair_input_schema(schema: Any) -> tuple[dict[str, Any], list[str]]:
    """A valid object schema for ``tools/list`` (root ``type: object``), and what was fixed."""
    fixes: list[str] = []
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}, [
            f"inputSchema was {type(schema).__name__}, replaced by an empty object schema"
        ]
    out = dict(schema)
    if out.get("type") != "object":
        if "type" in out:
            fixes.append(f"inputSchema root type {out['type']!r} is not 'object'; wrapped as object")
            if out.get("type") not in _SCHEMA_TYPES or "properties" not in out:
                out = {"type": "object", "properties": {}}
            else:
                out["type"] = "object"
        else:
            fixes.append("inputSchema had no root type; set to 'object'")
            out["type"] = "object"
    props = out.get("properties")
    if props is not None and not isinstance(props, dict):
        fixes.append("inputSchema.properties was not an object; dropped")
        out.pop("properties")
    elif isinstance(props, dict):
        bad = [k for k, v in props.items() if not isinstance(v, (dict, bool))]
        if bad:
            fixes.append(f"inputSchema.properties {bad} were not schemas; made permissive")
            out["properties"] = {k: (v if isinstance(v, (dict, bool)) else {}) for k, v in props.items()}
    req = out.get("required")
    if req is not None and (not isinstance(req, list) or not all(isinstance(r, str) for r in req)):
        fixes.append("inputSchema.required was not a list of names; dropped")
        out.pop("required")
    return out, fixes


def repair_output_schema(schema: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Output schemas must be object schemas too; an unusable one is dropped (results pass through)."""
    if schema is None:
        return None, []
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None, ["outputSchema is not an object schema; dropped"]
    return schema, []


def repair_tool(tool: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """One raw tool entry -> a listable one (or ``None`` if it has no usable name)."""
    if not isinstance(tool, dict):
        return None, ["tool entry is not an object; skipped"]
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        return None, ["tool has no name; skipped"]
    fixed = dict(tool)
    fixes: list[str] = []
    fixed["inputSchema"], in_fixes = repair_input_schema(tool.get("inputSchema"))
    fixes += in_fixes
    if "outputSchema" in tool:
        out_schema, out_fixes = repair_output_schema(tool.get("outputSchema"))
        fixes += out_fixes
        if out_schema is None:
            fixed.pop("outputSchema", None)
        else:
            fixed["outputSchema"] = out_schema
    if "description" in fixed and not isinstance(fixed["description"], str):
        fixes.append("description was not a string; dropped")
        fixed.pop("description")
    if "annotations" in fixed and not isinstance(fixed["annotations"], dict):
        fixes.append("annotations were not an object; dropped")
        fixed.pop("annotations")
    return fixed, fixes


def repair_list_tools_result(result: dict[str, Any], warn: Warn) -> dict[str, Any]:
    """Repair a raw ``tools/list`` result in place-safe fashion; calls ``warn`` per repair."""
    tools = result.get("tools")
    if not isinstance(tools, list):
        warn("downstream_tools_list_invalid", problem="'tools' is not a list; treated as empty")
        return {**result, "tools": []}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for raw in tools:
        fixed, fixes = repair_tool(raw)
        name = fixed["name"] if fixed else (raw.get("name") if isinstance(raw, dict) else None)
        for fix in fixes:
            warn("downstream_tool_schema_repaired", tool=name, fix=fix)
        if fixed is None:
            continue
        if fixed["name"] in seen:
            warn("downstream_tool_duplicate", tool=fixed["name"], fix="later duplicate skipped")
            continue
        seen.add(fixed["name"])
        out.append(fixed)
    return {**result, "tools": out}


def _repair_named_list(
    result: dict[str, Any], key: str, required: tuple[str, ...], warn: Warn
) -> dict[str, Any]:
    items = result.get(key)
    if not isinstance(items, list):
        warn("downstream_list_invalid", list=key, problem=f"'{key}' is not a list; treated as empty")
        return {**result, key: []}
    good = []
    for item in items:
        if isinstance(item, dict) and all(isinstance(item.get(f), str) and item.get(f) for f in required):
            good.append(item)
        else:
            warn("downstream_list_item_skipped", list=key, item=str(item)[:200])
    return {**result, key: good}


def repair_result(result: dict[str, Any], warn: Warn) -> dict[str, Any]:
    """Dispatch on the shape of a raw result (responses carry no method name)."""
    if "tools" in result:
        return repair_list_tools_result(result, warn)
    if "prompts" in result:
        return _repair_named_list(result, "prompts", ("name",), warn)
    if "resourceTemplates" in result:
        return _repair_named_list(result, "resourceTemplates", ("uriTemplate", "name"), warn)
    if "resources" in result:
        return _repair_named_list(result, "resources", ("uri", "name"), warn)
    return result
