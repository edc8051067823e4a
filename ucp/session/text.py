"""Compact text for the model: argument signatures and one-line descriptions (pure, no MCP imports)."""

from __future__ import annotations

import json
from typing import Any


def type_of(prop: Any, depth: int = 0) -> str:
    """A JSON-schema property as a short type: ``string``, ``integer[]``, ``string | null``, ``"a"|"b"``."""
    if not isinstance(prop, dict) or depth > 3:
        return "any"
    if "const" in prop:
        return json.dumps(prop["const"])
    if isinstance(prop.get("enum"), list):
        values = prop["enum"]
        return "|".join(json.dumps(v) for v in values[:5]) + ("|…" if len(values) > 5 else "")
    kind = prop.get("type")
    if isinstance(kind, list):
        return " | ".join(_array(prop, str(t), depth) for t in kind)
    if isinstance(kind, str):
        return _array(prop, kind, depth)
    for union in ("anyOf", "oneOf"):
        if isinstance(prop.get(union), list) and prop[union]:
            parts = list(dict.fromkeys(type_of(p, depth + 1) for p in prop[union]))
            return " | ".join(parts)
    if isinstance(prop.get("allOf"), list) and len(prop["allOf"]) == 1:
        return type_of(prop["allOf"][0], depth + 1)
    if isinstance(prop.get("$ref"), str):
        return prop["$ref"].rsplit("/", 1)[-1] or "object"
    return "any"


def _array(prop: dict[str, Any], kind: str, depth: int) -> str:
    if kind == "array" and isinstance(prop.get("items"), dict):
        inner = type_of(prop["items"], depth + 1)
        return f"({inner})[]" if " " in inner or "|" in inner else f"{inner}[]"
    return kind


def signature(schema: dict[str, Any] | None, max_len: int = 240) -> str:
    """A compact argument signature: ``timezone: string, format?: "a"|"b", since?: string | null``."""
    if not schema or not isinstance(schema.get("properties"), dict):
        return ""
    required = set(schema.get("required") or [])
    parts = [
        f"{name}{'' if name in required else '?'}: {type_of(prop)}"
        for name, prop in schema["properties"].items()
    ]
    text = ", ".join(parts)
    return text if len(text) <= max_len else text[: max_len - 1] + "…"


def one_line(text: str, max_len: int = 160) -> str:
    line = " ".join((text or "").split())
    first = line.split(". ")[0]
    line = first if len(first) >= 40 else line
    return line if len(line) <= max_len else line[: max_len - 1] + "…"
