"""Arguments checked before they reach a shared connection; results capped by size."""

from __future__ import annotations

import mcp_types as types
import pytest

from ucp.errors import DownstreamProtocolError, InvalidArgumentsError
from ucp.pool.arguments import MAX_DEPTH, check_arguments, check_result, result_size


def test_valid_arguments_pass() -> None:
    check_arguments({"a": "text ✓", "b": [1, {"c": None}], "d": 1.5}, server="s", tool="t")


def test_a_lone_surrogate_is_named_by_its_field() -> None:
    with pytest.raises(InvalidArgumentsError) as info:
        check_arguments({"outer": {"items": ["ok", "\udfff"]}}, server="s", tool="t")
    assert info.value.details["field"] == "outer.items[1]"
    with pytest.raises(InvalidArgumentsError):
        check_arguments({"\ud800key": 1}, server="s", tool="t")


def test_nesting_is_bounded() -> None:
    deep: object = "x"
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(InvalidArgumentsError) as info:
        check_arguments({"v": deep}, server="s", tool="t")
    assert info.value.code == "invalid_arguments"


def test_results_are_measured_and_capped() -> None:
    result = types.CallToolResult(
        content=[types.TextContent(type="text", text="x" * 100)], structured_content={"k": "y" * 50}
    )
    assert result_size(result) >= 150
    check_result(result, server="s", tool="t", limit=1000)
    with pytest.raises(DownstreamProtocolError) as info:
        check_result(result, server="s", tool="t", limit=100)
    assert info.value.details["limit"] == 100
