from __future__ import annotations

import mcp_types as types
import pytest

from ucp.errors import InvalidArgumentsError
from ucp.router.catalog import Catalog
from ucp.session.calls import validate_arguments


def entry(schema: dict[str, object]):  # type: ignore[no-untyped-def]
    catalog = Catalog()
    catalog.set_server_tools("s", [types.Tool(name="t", input_schema=schema)])
    return catalog.entries["s__t"]


SCHEMA = {
    "type": "object",
    "properties": {
        "n": {"type": "integer", "minimum": 0},
        "opts": {"type": "object", "properties": {"v": {"type": "string"}}},
    },
    "required": ["n"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({}, "n"),
        ({"n": "x"}, "n"),
        ({"n": -1}, "n"),
        ({"n": 1, "extra": 2}, "extra"),
        ({"n": 1, "opts": {"v": 3}}, "opts.v"),
    ],
)
def test_invalid_arguments_name_the_field(args: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgumentsError) as info:
        validate_arguments(entry(SCHEMA), args)
    assert info.value.details["field"] == field
    assert info.value.code == "invalid_arguments"


def test_valid_arguments_pass_and_non_objects_fail() -> None:
    validate_arguments(entry(SCHEMA), {"n": 2, "opts": {"v": "x"}})
    with pytest.raises(InvalidArgumentsError):
        validate_arguments(entry(SCHEMA), [1, 2])


def test_broken_server_schema_defers_to_the_server() -> None:
    validate_arguments(entry({"type": "object", "properties": {"a": {"type": "no-such-type"}}}), {"a": 1})
