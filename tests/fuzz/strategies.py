"""Hypothesis strategies for hostile input: JSON values with lone surrogates, deep nesting,
huge numbers; YAML with anchors; byte soup."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# text that includes lone surrogates and control characters
nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.sampled_from(["", "\x00", "\udfff", "${HOME}", "../../etc/passwd", "{port}", "1" * 5000, "\u202e"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**310),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


json_text = st.one_of(
    st.text(max_size=200),
    st.builds(nested, st.integers(min_value=1, max_value=20_000)),
    st.sampled_from(['{"a": ', "{" * 3000, "1" * 5000, '{"a": NaN}', "\ufeff{}", '{"a":"\\udfff"}']),
)
yaml_text = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "a: &a [1,2]\nb: [*a,*a]\n",
            "a: &a [*a]\n",
            "- " * 500 + "x",
            "!!python/object:os.system ls",
            "a: !!binary AAAA\n",
            "? [1]\n: 2\n",
        ]
    ),
)
