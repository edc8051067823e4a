"""`ucp route explain`, `ucp route tokens` and `ucp index` on the embedded defaults (built-ins)."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli


def test_route_tokens_reports_each_mode(cli: Cli) -> None:
    result = cli("route", "tokens", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tools"] >= 10 and all(name in data for name in ("method", "dynamic", "share_of_full"))
    tokens = data["tokens"]
    assert tokens["search"] < tokens["full"] and tokens["search"] <= tokens["dynamic"]
    assert data["share_of_full"]["full"] == 1.0
    table = cli("route", "tokens")
    assert table.exit_code == 0
    assert "share of full" in table.stdout and f"{tokens['full']:,}" in table.stdout


def test_route_explain_shows_every_score(cli: Cli) -> None:
    result = cli(
        "route", "explain", "forecast next month's cloud spend", "--no-dense", "--limit", "3", "--json"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["mode"] == "bm25"
    rows = data["results"]
    assert len(rows) == 3
    assert rows[0]["name"] == "cloud__forecast_usage"
    for row in rows:
        assert {"bm25", "bm25_norm", "dense", "prior", "fused", "score"} <= set(row)
        assert row["dense"] is None  # BM25 only
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    table = cli("route", "explain", "forecast next month's cloud spend", "--no-dense", "--limit", "3")
    assert table.exit_code == 0
    assert "cloud__forecast_usage" in table.stdout and "fused" in table.stdout


def test_route_explain_rejects_an_empty_query(cli: Cli) -> None:
    result = cli("route", "explain", "   ")
    assert result.exit_code == 2
    assert "empty" in result.stderr


@pytest.mark.integration
def test_index_embeds_once_then_hits_the_cache(cli: Cli) -> None:
    cold = cli("index", "--json")
    assert cold.exit_code == 0, cold.stderr
    first = json.loads(cold.stdout)
    assert first["ok"] and first["tools"] >= 10 and first["error"] is None
    assert "MiniLM" in first["model"] or "minilm" in first["model"].lower()
    assert any((cli.home / "index").iterdir())
    warm = json.loads(cli("index", "--json").stdout)
    assert warm["ok"] and warm["tools"] == first["tools"]


@pytest.mark.integration  # real process, socket or model
def test_index_reports_a_model_that_cannot_load(cli: Cli) -> None:
    cli.home.mkdir(parents=True, exist_ok=True)
    cli.registry.write_text(f'[router]\nembedding_model = "{cli.home / "no-such-model"}"\n')
    result = cli("index", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["error"]
    plain = cli("index")
    assert plain.exit_code == 1 and "failed" in plain.stdout
