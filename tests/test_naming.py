"""Exposed names: provider-safe, deterministic, reversible, collision-free."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ucp.naming import EXPOSED_NAME_RE, NameMap, exposed_name, suggest

servers = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}", fullmatch=True)
tools = st.text(min_size=1, max_size=150)


def test_plain_names_are_kept() -> None:
    assert exposed_name("time", "get_current_time") == "time__get_current_time"


def test_dots_and_long_names_are_shortened_with_a_hash() -> None:
    dotted = exposed_name("gh", "repos.list")
    assert EXPOSED_NAME_RE.match(dotted)
    assert dotted.startswith("gh__repos_list_")
    long = exposed_name("server", "x" * 100)
    assert len(long) == 64
    assert EXPOSED_NAME_RE.match(long)
    assert exposed_name("server", "x" * 100) == long  # deterministic
    assert exposed_name("server", "x" * 101) != long


@given(servers, tools)
def test_always_valid(server: str, tool: str) -> None:
    assert EXPOSED_NAME_RE.match(exposed_name(server, tool))


@given(servers, st.lists(tools, min_size=1, max_size=30, unique=True))
def test_name_map_is_reversible_and_collision_free(server: str, names: list[str]) -> None:
    mapping = NameMap()
    exposed = [mapping.add(server, n) for n in names]
    assert len(set(exposed)) == len(names)
    for original, name in zip(names, exposed, strict=True):
        assert mapping.resolve(name) == (server, original)
        assert EXPOSED_NAME_RE.match(name)


def test_clash_with_a_literal_name_is_resolved() -> None:
    mapping = NameMap()
    hashed = exposed_name("s", "a.b")
    literal_tool = hashed.split("__", 1)[1]  # a tool literally named like the hashed form
    first = mapping.add("s", literal_tool)
    second = mapping.add("s", "a.b")
    assert first == hashed
    assert second != first
    assert mapping.resolve(second) == ("s", "a.b")


def test_retain_and_remove() -> None:
    mapping = NameMap()
    mapping.add("a", "x")
    mapping.add("a", "y")
    mapping.add("b", "x")
    mapping.retain("a", {"x"})
    assert mapping.resolve("a__y") is None
    assert mapping.resolve("a__x") == ("a", "x")
    mapping.remove_server("b")
    assert mapping.names() == ["a__x"]


def test_suggest() -> None:
    names = ["time__get_current_time", "time__convert_time", "git__git_status"]
    assert suggest("time__get_curent_time", names)[0] == "time__get_current_time"
    assert "git__git_status" in suggest("status", names)
    assert suggest("zzzzzz", names) == []
