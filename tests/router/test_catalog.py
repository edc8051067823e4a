from __future__ import annotations

import mcp_types as types

from tests.fakes import tool
from ucp.router.catalog import Catalog, CatalogChange


def test_changes_are_detected_and_published() -> None:
    catalog = Catalog()
    seen: list[CatalogChange] = []
    catalog.subscribe(seen.append)
    first = catalog.set_server_tools("s", [tool("a"), tool("b")], tags=["x"], pinned=["b"])
    assert first.added == ("s__a", "s__b")
    assert catalog.entries["s__b"].pinned
    assert catalog.entries["s__a"].doc.tags == ("x",)
    v = catalog.version
    same = catalog.set_server_tools("s", [tool("a"), tool("b")], tags=["x"], pinned=["b"])
    assert same.empty and catalog.version == v
    changed = catalog.set_server_tools("s", [tool("a", "new words"), tool("c")])
    assert changed.added == ("s__c",)
    assert changed.removed == ("s__b",)
    assert changed.changed == ("s__a",)
    assert len(seen) == 2
    assert catalog.resolve("s__b") is None


def test_health_and_removal() -> None:
    catalog = Catalog()
    catalog.set_server_tools("s", [tool("a")])
    assert catalog.is_healthy("s__a")
    assert not catalog.set_health("s", False).empty
    assert not catalog.is_healthy("s__a")
    assert catalog.set_health("s", False).empty
    removed = catalog.remove_server("s")
    assert removed.removed == ("s__a",)
    assert len(catalog) == 0


def test_exposed_tool_renames_and_withdraws_output_schema() -> None:
    catalog = Catalog()
    t = types.Tool(name="x.y", input_schema={"type": "object"}, output_schema={"type": "object"})
    catalog.set_server_tools("s", [t], withdrawn_outputs=lambda n: n == "x.y")
    entry = next(iter(catalog.entries.values()))
    exposed = entry.exposed_tool()
    assert exposed.name == entry.exposed and exposed.name.startswith("s__x_y_")
    assert exposed.output_schema is None
    assert exposed.meta == {"ucp/server": "s", "ucp/tool": "x.y"}
    assert entry.content_hash == entry.doc.content_hash


def test_sorted_is_deterministic() -> None:
    catalog = Catalog()
    catalog.set_server_tools("b", [tool("z"), tool("a")])
    catalog.set_server_tools("a", [tool("m")])
    assert [e.exposed for e in catalog.sorted_entries()] == ["a__m", "b__a", "b__z"]
