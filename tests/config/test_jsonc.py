"""JSONC: parsed like JSON with comments and trailing commas, edited without losing a byte
outside the member that changes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucp.config import jsonc

VSCODE = """// VS Code user mcp.json
{
    /* servers VS Code starts */
    "servers": {
        // the clock
        "time": {"type": "stdio", "command": "t"}, // trailing comment
        "git": {
            "type": "stdio",
            "command": "g", /* inline */
        },
    },
    "inputs": [{"type": "promptString", "id": "tok", "password": true},],
}
"""


def test_loads_ignores_comments_and_trailing_commas() -> None:
    assert jsonc.loads(VSCODE) == {
        "servers": {"time": {"type": "stdio", "command": "t"}, "git": {"type": "stdio", "command": "g"}},
        "inputs": [{"type": "promptString", "id": "tok", "password": True}],
    }
    assert jsonc.loads('{"url": "http://x//y", "c": "/* not a comment */"}') == {
        "url": "http://x//y",
        "c": "/* not a comment */",
    }
    assert jsonc.loads("  // nothing\n") == {}


@pytest.mark.parametrize(
    "bad", ["{,}", '{"a": 1,,}', '{"a" 1}', "{'a': 1}", '{"a": [1, 2}', "/* open", '{"a": 1} x']
)
def test_errors_have_a_position(bad: str) -> None:
    with pytest.raises(jsonc.JsoncError) as info:
        jsonc.loads(bad)
    assert info.value.lineno >= 1
    assert "line" in str(info.value)


def test_set_member_keeps_every_comment() -> None:
    after = jsonc.set_member(
        VSCODE, ["servers"], "ucp", {"type": "stdio", "command": "/u", "args": ["serve"]}
    )
    for comment in (
        "// VS Code user mcp.json",
        "/* servers VS Code starts */",
        "// the clock",
        "// trailing comment",
        "/* inline */",
    ):
        assert comment in after
    assert jsonc.loads(after)["servers"]["ucp"] == {"type": "stdio", "command": "/u", "args": ["serve"]}
    assert '        "ucp": {\n            "type": "stdio",' in after  # the file's 4-space indentation
    # replacing a member touches only its value
    again = jsonc.set_member(after, ["servers"], "ucp", {"type": "stdio", "command": "/v"})
    assert again.replace('"/v"', '"/u"', 1).count("// the clock") == 1
    assert jsonc.loads(again)["servers"]["ucp"] == {"type": "stdio", "command": "/v"}
    assert again.startswith("// VS Code user mcp.json\n{\n    /* servers VS Code starts */")


def test_set_member_creates_missing_objects_and_handles_compact_files() -> None:
    text = jsonc.set_member(
        '{\n  // mine\n  "theme": "dark"\n}\n', ["context_servers"], "ucp", {"command": "/u"}
    )
    assert "// mine" in text
    assert jsonc.loads(text) == {"theme": "dark", "context_servers": {"ucp": {"command": "/u"}}}
    assert json.loads(jsonc.set_member("", ["mcpServers"], "ucp", {"a": 1})) == {
        "mcpServers": {"ucp": {"a": 1}}
    }
    compact = jsonc.set_member('{"mcpServers": {"b": {}}}', ["mcpServers"], "ucp", {"a": 1})
    assert json.loads(compact) == {"mcpServers": {"b": {}, "ucp": {"a": 1}}}
    empty_obj = jsonc.set_member('{\n  "servers": {\n    // none yet\n  }\n}\n', ["servers"], "x", 1)
    assert "// none yet" in empty_obj
    assert jsonc.loads(empty_obj) == {"servers": {"x": 1}}


def test_remove_member_takes_its_line_and_comma() -> None:
    no_time = jsonc.remove_member(VSCODE, ["servers"], "time")
    assert "trailing comment" not in no_time  # the comment at the end of its line goes with it
    assert "// the clock" in no_time
    assert jsonc.loads(no_time)["servers"] == {"git": {"type": "stdio", "command": "g"}}
    none_left = jsonc.remove_member(no_time, ["servers"], "git")
    assert jsonc.loads(none_left)["servers"] == {}
    assert jsonc.remove_member(VSCODE, ["servers"], "absent") == VSCODE
    assert jsonc.remove_member(VSCODE, ["nothing"], "time") == VSCODE
    last = '{\n  "s": {\n    "a": 1,\n    "b": 2\n  }\n}\n'
    assert json.loads(jsonc.remove_member(last, ["s"], "b")) == {"s": {"a": 1}}  # strict JSON stays strict


_keys = st.text(alphabet="abcxyz_-", min_size=1, max_size=6)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(_keys, st.dictionaries(_keys, _values, max_size=3), max_size=3),
    _keys,
    _values,
    st.integers(1, 4),
)
def test_edits_agree_with_plain_json(
    data: dict[str, dict[str, object]], key: str, value: object, indent: int
) -> None:
    text = json.dumps(data, indent=indent)
    expected = json.loads(text)
    expected.setdefault("servers", {})
    if not isinstance(expected["servers"], dict):
        return
    expected["servers"][key] = value
    edited = jsonc.set_member(text, ["servers"], key, value)
    assert json.loads(edited) == expected  # strict JSON in, strict JSON out
    removed = jsonc.remove_member(edited, ["servers"], key)
    del expected["servers"][key]
    assert json.loads(removed) == expected
