from __future__ import annotations

from tests.fakes import tool
from ucp.router.base import Ranked, Ranking
from ucp.router.catalog import Catalog
from ucp.session.metatools import definitions, render_ranking
from ucp.session.text import one_line, signature


def test_signature() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tz": {"type": "string"},
            "fmt": {"enum": ["a", "b"]},
            "ids": {"type": "array", "items": {"type": "integer"}},
            "opt": {"type": ["string", "null"]},
            "u": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "since": {
                "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
                "default": None,
            },
            "tags": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "cfg": {"$ref": "#/$defs/Config"},
            "one": {"allOf": [{"type": "boolean"}]},
        },
        "required": ["tz"],
    }
    assert signature(schema) == (
        'tz: string, fmt?: "a"|"b", ids?: integer[], opt?: string | null, u?: string | integer, '
        "since?: string | null, tags?: (string | integer)[], cfg?: Config, one?: boolean"
    )
    assert "union" not in signature(schema)
    assert signature({}) == ""
    assert signature(
        {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(60)}}, max_len=50
    ).endswith("…")


def test_one_line() -> None:
    assert one_line("Get the current time in a specific timezone. Use IANA names.") == (
        "Get the current time in a specific timezone"
    )
    assert one_line("Short. But then\n more  text here") == "Short. But then more text here"
    assert len(one_line("x" * 500)) == 160


def test_definitions_are_valid_and_stable() -> None:
    names = [t.name for t in definitions()]
    assert names == ["ucp__search_tools", "ucp__describe_tool", "ucp__call_read_only_tool", "ucp__call_tool"]
    assert definitions() == definitions()


def test_the_two_call_tools_carry_annotations_a_host_can_act_on() -> None:
    by_name = {t.name: t for t in definitions()}
    read = by_name["ucp__call_read_only_tool"].annotations
    anything = by_name["ucp__call_tool"].annotations
    assert read is not None and read.read_only_hint is True and read.destructive_hint is False
    assert anything is not None and anything.destructive_hint is True and anything.read_only_hint is False


def test_render_ranking_text_and_structure() -> None:
    catalog = Catalog()
    catalog.set_server_tools(
        "time", [tool("get_current_time", "Get current time in a timezone.", timezone="string")]
    )
    entry = catalog.entries["time__get_current_time"]
    result = render_ranking(
        Ranking(query="time in Tokyo", results=(Ranked(entry=entry, score=0.9),), mode="hybrid")
    )
    text = result.content[0].text
    assert "time__get_current_time(timezone: string)" in text
    assert result.structured_content == {
        "query": "time in Tokyo",
        "mode": "hybrid",
        "results": [
            {
                "name": "time__get_current_time",
                "server": "time",
                "description": "Get current time in a timezone.",
                "signature": "timezone: string",
                "score": 0.9,
            }
        ],
    }
    empty = render_ranking(Ranking(query="nothing", results=()))
    assert "No tools matched" in empty.content[0].text


def _ranking(match: str, confidence: float) -> Ranking:
    catalog = Catalog()
    catalog.set_server_tools("git", [tool("git_create_branch", "Create a new branch.", branch="string")])
    entry = catalog.entries["git__git_create_branch"]
    return Ranking(
        query="create a GitHub issue",
        results=(Ranked(entry=entry, score=1.0, confidence=confidence),),
        mode="hybrid",
        match=match,
        servers=("git", "time"),
    )


def test_no_good_match_says_so_and_lists_the_registered_servers() -> None:
    result = render_ranking(_ranking("none", 0.04))
    text = result.content[0].text
    assert "No good match" in text and "Registered servers: git, time" in text
    assert "[match 0.04]" in text and "1.000" not in text  # the calibrated figure, not the per-query max
    assert result.structured_content is not None
    assert result.structured_content["match"] == "none"
    assert result.structured_content["servers"] == ["git", "time"]
    assert result.structured_content["results"][0]["confidence"] == 0.04


def test_weak_and_good_matches() -> None:
    weak = render_ranking(_ranking("weak", 0.2))
    assert "Weak match" in weak.content[0].text and weak.structured_content is not None
    assert weak.structured_content["match"] == "weak" and "servers" in weak.structured_content
    good = render_ranking(_ranking("good", 0.8))
    assert good.structured_content is not None
    assert good.structured_content["match"] == "good" and "servers" not in good.structured_content
    assert "match" not in good.content[0].text.splitlines()[1].split("—")[0]  # no warning line
    assert "No good match" not in good.content[0].text and "Weak match" not in good.content[0].text
