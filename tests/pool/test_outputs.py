from __future__ import annotations

import mcp_types as types

from ucp.pool.outputs import OutputChecker

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def result(structured: object) -> types.CallToolResult:
    return types.CallToolResult(content=[], structured_content=structured)


def test_conforming_result_passes() -> None:
    checker = OutputChecker()
    t = types.Tool(name="t", input_schema={"type": "object"}, output_schema=SCHEMA)
    assert checker.check("s", t, result({"n": 1})) is None
    assert not checker.is_withdrawn("s", "t")


def test_mismatch_is_reported_once_and_withdrawn() -> None:
    checker = OutputChecker()
    t = types.Tool(name="t", input_schema={"type": "object"}, output_schema=SCHEMA)
    problem = checker.check("s", t, result({"n": "x"}))
    assert problem is not None and "n" in problem
    assert checker.is_withdrawn("s", "t")
    assert checker.check("s", t, result({"n": "x"})) is None
    checker.forget_server("s", keep=set())
    assert not checker.is_withdrawn("s", "t")


def test_missing_structured_content_and_invalid_schema() -> None:
    checker = OutputChecker()
    t = types.Tool(name="t", input_schema={"type": "object"}, output_schema=SCHEMA)
    assert "no structured content" in (checker.check("s", t, types.CallToolResult(content=[])) or "")
    broken = types.Tool(
        name="b",
        input_schema={"type": "object"},
        output_schema={"type": "object", "properties": {"a": {"type": 7}}},
    )
    assert "not valid JSON Schema" in (checker.check("s", broken, result({"a": 1})) or "")
