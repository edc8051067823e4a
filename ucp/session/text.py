"""Compact text for the model: argument signatures and one-line descriptions (pure, no MCP imports)."""

from __future__ import annotations

import json
from typing import Any


def signature(schema: dict[str, Any] | None, max_len: int = 240) -> str:
    """A compact argument signature: ``timezone: string, format?: "a"|"b"``."""
    if not schema or not isinstance(schema.get("properties"), dict):
        return ""
    required = set(schema.get("required") or [])
    parts = []
    for name, prop in schema["properties"].items():
        kind = "any"
        if isinstance(prop, dict):
            if "enum" in prop and isinstance(prop["enum"], list):
                kind = "|".join(json.dumps(v) for v in prop["enum"][:5]) + (
                    "|…" if len(prop["enum"]) > 5 else ""
                )
            elif isinstance(prop.get("type"), str):
                kind = prop["type"]
                if (
                    kind == "array"
                    and isinstance(prop.get("items"), dict)
                    and isinstance(prop["items"].get("type"), str)
                ):
                    kind = f"{prop['items']['type']}[]"
            elif isinstance(prop.get("type"), list):
                kind = "|".join(str(t) for t in prop["type"])
            elif "anyOf" in prop or "oneOf" in prop:
                kind = "union"
            elif "$ref" in prop:
                kind = "object"
        parts.append(f"{name}{'' if name in required else '?'}: {kind}")
    text = ", ".join(parts)
    return text if len(text) <= max_len else text[: max_len - 1] + "…"


def one_line(text: str, max_len: int = 160) -> str:
    line = " ".join((text or "").split())
    first = line.split(". ")[0]
    line = first if len(first) >= 40 else line
    return line if len(line) <= max_len else line[: max_len - 1] + "…"
