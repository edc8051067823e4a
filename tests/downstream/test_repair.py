"""Repairing raw downstream results before the strict SDK client sees them."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from ucp.downstream.repair import repair_input_schema, repair_list_tools_result, repair_result


def collect() -> tuple[list[tuple[str, dict[str, Any]]], Any]:
    seen: list[tuple[str, dict[str, Any]]] = []

    def warn(event: str, **kw: Any) -> None:
        seen.append((event, kw))

    return seen, warn


def test_valid_schema_untouched() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    fixed, fixes = repair_input_schema(schema)
    assert fixed == schema
    assert fixes == []


def test_empty_and_non_dict_schemas() -> None:
    assert repair_input_schema({})[0] == {"type": "object"}
    assert repair_input_schema("x")[0] == {"type": "object", "properties": {}}
    assert repair_input_schema(None)[0]["type"] == "object"
    fixed, fixes = repair_input_schema({"type": "string"})
    assert fixed["type"] == "object" and fixes


def test_bad_properties_and_required() -> None:
    fixed, fixes = repair_input_schema({"type": "object", "properties": ["a"], "required": "a"})
    assert "properties" not in fixed and "required" not in fixed
    assert len(fixes) == 2
    fixed2, _ = repair_input_schema({"type": "object", "properties": {"a": 3, "b": {"type": "string"}}})
    assert fixed2["properties"] == {"a": {}, "b": {"type": "string"}}


def test_listing_keeps_good_tools_and_result_validates() -> None:
    seen, warn = collect()
    raw = {
        "tools": [
            {"name": "ok", "inputSchema": {"type": "object"}},
            {"name": "empty", "inputSchema": {}},
            {"description": "nameless"},
            "garbage",
            {"name": "ok", "inputSchema": {"type": "object"}},
            {"name": "out", "inputSchema": {"type": "object"}, "outputSchema": {"type": "array"}},
        ]
    }
    fixed = repair_list_tools_result(raw, warn)
    assert [t["name"] for t in fixed["tools"]] == ["ok", "empty", "out"]
    assert "outputSchema" not in fixed["tools"][2]
    types.ListToolsResult.model_validate(fixed)  # the strict client accepts it now
    events = [e for e, _ in seen]
    assert "downstream_tool_duplicate" in events
    assert events.count("downstream_tool_schema_repaired") >= 3


def test_other_lists_and_passthrough() -> None:
    _, warn = collect()
    fixed = repair_result({"prompts": [{"name": "p"}, {"nope": 1}]}, warn)
    assert fixed["prompts"] == [{"name": "p"}]
    fixed2 = repair_result({"resources": [{"uri": "a://b", "name": "b"}, {"uri": 3}]}, warn)
    assert len(fixed2["resources"]) == 1
    other: dict[str, Any] = {"content": []}
    assert repair_result(other, warn) is other
    assert repair_result({"tools": "x"}, warn) == {"tools": []}
