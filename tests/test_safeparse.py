"""Bounded parsing (ucp/safeparse.py): billion laughs, deep nesting, huge numbers, bad bytes."""

from __future__ import annotations

import time

import pytest

from ucp.safeparse import DocumentError, Limits, check_shape, load_json, load_yaml

# the 534-byte manual of issue 12: nine levels of nested aliases (~10^9 values once expanded)
BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
utcp_version: "1.0.0"
tools: []
"""


def test_billion_laughs_is_refused_fast_without_expanding() -> None:
    started = time.perf_counter()
    with pytest.raises(DocumentError) as info:
        load_yaml(BILLION_LAUGHS)
    assert info.value.reason == "too_many_nodes"
    assert time.perf_counter() - started < 1.0


def test_small_aliases_still_load() -> None:
    data = load_yaml("base: &b {x: 1}\nother: *b\nlist: [*b, *b]\n")
    assert data == {"base": {"x": 1}, "other": {"x": 1}, "list": [{"x": 1}, {"x": 1}]}


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(DocumentError) as info:
        load_yaml("a: &a [1, *a]\n")
    assert info.value.reason == "recursive_alias"


@pytest.mark.parametrize("loader", [load_json, load_yaml])
def test_deep_nesting_is_a_document_error(loader: object) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    with pytest.raises(DocumentError) as info:
        loader(deep)  # type: ignore[operator]
    assert info.value.reason == "too_deep"


def test_nesting_past_the_limit_is_refused_below_the_recursion_limit() -> None:
    with pytest.raises(DocumentError):
        load_json("[" * 200 + "]" * 200)  # deeper than 128, well below RecursionError
    assert load_json("[" * 100 + "]" * 100) is not None


def test_huge_integer_and_bad_bytes_are_document_errors() -> None:
    with pytest.raises(DocumentError):
        load_json("1" * 5000)
    with pytest.raises(DocumentError) as info:
        load_json(b'{"a": "\xff"}')
    assert info.value.reason == "not_utf8"
    with pytest.raises(DocumentError):
        load_json('{"a": ')


def test_check_shape_counts_values() -> None:
    with pytest.raises(DocumentError):
        check_shape(list(range(2000)), Limits(max_nodes=1000))
    check_shape({"a": [1, 2, {"b": 3}]}, Limits(max_depth=3))
    with pytest.raises(DocumentError):
        check_shape({"a": [1, 2, {"b": [4]}]}, Limits(max_depth=3))
