from __future__ import annotations

import mcp_types as types

from ucp.pool.directory import Directory


def res(uri: str) -> types.Resource:
    return types.Resource(uri=uri, name=uri.rsplit("/", 1)[-1])


def test_prompts_namespaced_and_resolved() -> None:
    d = Directory()
    d.set_server("a", prompts=[types.Prompt(name="greet")], resources=[], templates=[])
    assert [p.name for p in d.list_prompts()] == ["a__greet"]
    assert d.resolve_prompt("a__greet") == ("a", "greet")
    assert d.resolve_prompt("greet") is None


def test_resource_uris_kept_unless_they_clash() -> None:
    d = Directory()
    d.set_server("a", prompts=[], resources=[res("file:///x"), res("a://only")], templates=[])
    d.set_server("b", prompts=[], resources=[res("file:///x")], templates=[])
    uris = [str(r.uri) for r in d.list_resources()]
    assert "file:///x" in uris and "a://only" in uris
    rewritten = next(u for u in uris if u.startswith("ucp://b/"))
    assert d.resolve_resource(rewritten) == ("b", "file:///x")
    assert d.resolve_resource("file:///x") == ("a", "file:///x")


def test_templates_route_unlisted_uris() -> None:
    d = Directory()
    t = types.ResourceTemplate(uri_template="test://item/{id}", name="item")
    d.set_server("t", prompts=[], resources=[], templates=[t])
    assert d.resolve_resource("test://item/42") == ("t", "test://item/42")
    assert d.resolve_resource("test://other/42") is None
    assert d.server_of_template("test://item/{id}") == "t"
    d.remove_server("t")
    assert d.resolve_resource("test://item/42") is None
