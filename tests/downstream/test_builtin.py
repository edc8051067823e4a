"""The in-process adapter for built-in tools."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from ucp.builtins.base import Annotations, BuiltinServer, BuiltinTool, ToolInputError
from ucp.downstream.builtin import BuiltinTransport, run_tool, tool_definition

pytestmark = pytest.mark.anyio


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: list[float] = Field(min_length=1)


class Out(BaseModel):
    total: float


def handler(args: In) -> Out:
    if any(v < 0 for v in args.values):
        raise ToolInputError(
            f"values[{next(i for i, v in enumerate(args.values) if v < 0)}]", "must not be negative"
        )
    return Out(total=sum(args.values))


SUM = BuiltinTool(
    "sum", "Sum", "Adds numbers.", In, Out, handler, Annotations(read_only=True), tags=("math",)
)
SERVER = BuiltinServer("calc", "Calculator", (SUM,))


def test_definition_has_schemas_and_annotations() -> None:
    tool = tool_definition(SUM)
    assert tool.input_schema["properties"]["values"]["type"] == "array"
    assert tool.output_schema is not None and "total" in tool.output_schema["properties"]
    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert tool.meta == {"ucp/tags": ["math"]}


def test_run_ok_and_errors_name_fields() -> None:
    ok = run_tool(SUM, {"values": [1, 2.5]})
    assert ok.structured_content == {"total": 3.5}
    bad_type = run_tool(SUM, {"values": ["x"]})
    assert bad_type.is_error and bad_type.meta["ucp/error"]["field"] == "values[0]"
    extra = run_tool(SUM, {"values": [1], "oops": 1})
    assert extra.is_error and extra.meta["ucp/error"]["field"] == "oops"
    semantic = run_tool(SUM, {"values": [1, -2]})
    assert semantic.is_error and semantic.meta["ucp/error"]["field"] == "values[1]"


def test_non_finite_output_is_a_bug_not_a_value() -> None:
    inf_tool = BuiltinTool("inf", "Inf", "", In, Out, lambda a: Out(total=float("inf")))
    result = run_tool(inf_tool, {"values": [1]})  # a structured tool error, not a value or a crash
    assert result.is_error and "non-finite" in result.content[0].text  # type: ignore[union-attr]


class _Events:
    def list_changed(self, kind: str) -> None: ...

    def resource_updated(self, uri: str) -> None: ...

    async def elicit(self, params: object) -> object: ...


async def test_session_runs_on_a_worker_thread() -> None:
    async with BuiltinTransport(SERVER).connect(_Events()) as session:  # type: ignore[arg-type]
        assert [t.name for t in await session.list_tools()] == ["sum"]
        result = await session.call_tool("sum", {"values": [2, 2]}, timeout=5)
        assert result.structured_content == {"total": 4}
        missing = await session.call_tool("nope", {}, timeout=5)
        assert missing.is_error


async def test_listing_file_serves_tools_list_and_code_loads_at_first_call(tmp_path: Path) -> None:
    import json
    import sys
    import types as pytypes

    listing = tmp_path / "tools.json"
    listing.write_text(
        json.dumps([tool_definition(SUM).model_dump(mode="json", by_alias=True, exclude_none=True)])
    )
    module = pytypes.ModuleType("ucp_test_lazy_builtin")
    module.SERVER = SERVER  # type: ignore[attr-defined]
    transport = BuiltinTransport("ucp_test_lazy_builtin:SERVER", name="calc", listing=listing)
    async with transport.connect(_Events()) as session:  # type: ignore[arg-type]
        listed = await session.list_tools()  # served from the file: the module is not importable yet
        assert [t.name for t in listed] == ["sum"]
        sys.modules["ucp_test_lazy_builtin"] = module
        try:
            result = await session.call_tool("sum", {"values": [1, 1]}, timeout=5)
        finally:
            del sys.modules["ucp_test_lazy_builtin"]
        assert result.structured_content == {"total": 2}


def _boom(args: In) -> Out:
    raise OverflowError("math range error")


def _bad_output(args: In) -> Out:
    return Out.model_construct(total=float("inf"))


@pytest.mark.parametrize(("handler_fn", "stage"), [(_boom, "handler"), (_bad_output, "output validation")])
def test_handler_and_output_failures_become_structured_tool_errors(handler_fn: object, stage: str) -> None:
    tool = BuiltinTool("sum", "Sum", "Adds numbers.", In, Out, handler_fn)  # type: ignore[arg-type]
    result = run_tool(tool, {"values": [1.0]})
    assert result.is_error
    meta = (result.meta or {})["ucp/error"]
    assert meta["code"] == "tool_failed" and meta["tool"] == "sum" and meta["stage"] == stage
    text = result.content[0].text  # type: ignore[union-attr]
    assert "sum" in text and ("OverflowError" in text if stage == "handler" else "non-finite" in text)
    assert "Traceback" not in text
