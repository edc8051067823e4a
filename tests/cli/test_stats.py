"""`ucp stats`: per-tool learned statistics, hit rates, --json, --reset."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli
from ucp.router.feedback import FeedbackStore, ToolRow


def _seed(cli: Cli) -> None:
    store = FeedbackStore(cli.home / "state" / "learning.sqlite")
    store.add_ranking(
        "r1",
        ts=1_800_000_000,
        session="s",
        source="search",
        query="q",
        shown=[("a__x", 1, False)],
        mode="hybrid",
    )
    store.add_outcome("r1", ts=1_800_000_001, tool="a__x", rank=1, ok=True, error=None, first_hit=True)
    store.save_tools(
        [
            ToolRow("a__x", 3.0, 1.5, 4, 2, 2, 0, 1, None, 2.0, 1.0),
            ToolRow("b__y", 1.0, 4.0, 9, 0, 0, 0, 0, None, 0.0, 1.0),
        ]
    )
    store.close()


def test_no_state_yet(cli: Cli) -> None:
    result = cli("stats", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["tools"] == []


def test_table_and_json(cli: Cli) -> None:
    _seed(cli)
    result = cli("stats", "--json")
    data = json.loads(result.stdout)
    assert [t["tool"] for t in data["tools"]] == ["b__y", "a__x"]  # most shown first
    a = data["tools"][1]
    assert (a["shown"], a["called"], a["succeeded"], a["explored"]) == (4, 2, 2, 1)
    assert a["posterior_mean"] == round(3.0 / 4.5, 4)
    assert data["daily"][0]["hit_rate"] == 1.0
    table = cli("stats")
    assert table.exit_code == 0
    assert "a__x" in table.stdout
    assert "hit rate" in table.stdout


def test_reset(cli: Cli) -> None:
    _seed(cli)
    refused = cli("stats", "--reset", input="n\n")
    assert refused.exit_code == 1
    assert json.loads(cli("stats", "--json").stdout)["tools"]
    done = cli("stats", "--reset", "--yes")
    assert done.exit_code == 0
    assert json.loads(cli("stats", "--json").stdout)["tools"] == []


def test_corrupt_state_is_a_clear_error(cli: Cli) -> None:
    db = cli.home / "state" / "learning.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    result = cli("stats")
    assert result.exit_code == 2
    assert "learning.sqlite" in result.stderr
