from __future__ import annotations

import json

from tests.cli.conftest import Cli
from tests.fakes import tool
from ucp.router.catalog import Catalog
from ucp.router.pins import PinStore


def _flag(cli: Cli) -> None:
    store = PinStore(cli.home / "state" / "pins.json")
    catalog = Catalog()
    catalog.set_server_tools("s", [tool("a", "one")])
    store.observe(catalog.entries.values())
    catalog.set_server_tools("s", [tool("a", "two")])
    store.observe(catalog.entries.values())


def test_list_and_approve(cli: Cli) -> None:
    _flag(cli)
    listed = json.loads(cli("trust", "list", "--json").stdout)
    assert [c["tool"] for c in listed["changed"]] == ["s__a"]
    assert cli("trust", "approve").exit_code == 2
    assert cli("trust", "approve", "s__zzz").exit_code == 2
    ok = cli("trust", "approve", "s__a")
    assert ok.exit_code == 0
    assert json.loads(cli("trust", "list", "--json").stdout)["changed"] == []
