"""Cross-dataset mode and multi-step helpers, on small data the project ships
(the metatool slice, split into two catalogs) with the hashing embedder (no model load)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tests.bench.slices import two_sets
from ucp.bench.cross import REPORT_KEYS, VARIANTS, WEIGHT_GRID, maximin_gain, render_cross, run_cross_bench
from ucp.router.embedder import HashingEmbedder
from ucp.router.hybrid import ScoredTool
from ucp.router.multi import diversify, sub_intents


def test_cross_mode_tunes_on_one_set_and_reports_on_the_other(tmp_path: Path) -> None:
    result = run_cross_bench(two_sets(tmp_path), embedder=HashingEmbedder(dim=64), limit=None, progress=False)
    assert [(p["source"], p["target"]) for p in result["pairs"]] == [("a", "b"), ("b", "a")]
    for pair in result["pairs"]:
        assert pair["tuned_dense_weight"] in WEIGHT_GRID and len(pair["grid"]) == len(WEIGHT_GRID)
        assert set(pair["rows"]) == set(VARIANTS)
        for row in pair["rows"].values():
            assert all(0.0 <= row[k] <= 1.0 for k in REPORT_KEYS)
            assert row["all@5"] <= row["recall@5"] and row["all@10"] <= row["recall@10"]
        ok = pair["beats_better_single"]["hybrid@src"]
        rows = pair["rows"]
        assert ok["recall@10"] == (
            rows["hybrid@src"]["recall@10"] >= max(rows[s]["recall@10"] for s in ("bm25", "dense"))
        )
    console = Console(width=200, record=True, file=io.StringIO())
    for t in render_cross(result):
        console.print(t)
    text = console.export_text()
    assert "tuned on a" in text and "all@10" in text


def test_cross_mode_needs_two_sets(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="two data sets"):
        run_cross_bench(two_sets(tmp_path)[:1], embedder=HashingEmbedder(dim=64), progress=False)


def test_maximin_gain_is_the_worst_relative_gain() -> None:
    singles = {"bm25": {"recall@10": 0.5, "ndcg@10": 0.4}, "dense": {"recall@10": 0.6, "ndcg@10": 0.3}}
    assert maximin_gain({"recall@10": 0.66, "ndcg@10": 0.42}, singles) == pytest.approx(0.05)


def test_sub_intents_split_multi_step_tasks_only() -> None:
    parts = sub_intents("find the repo's open issues, summarise them and then post the summary to Slack")
    assert parts[0] == "find the repo's open issues" and parts[-1] == "post the summary to Slack"
    assert sub_intents("what time is it in Tokyo") == []
    assert sub_intents("convert euros to yen") == []


def _t(key: str, score: float) -> ScoredTool:
    return ScoredTool(key, score, score, 0.0, 0.0, None, None, 0.0)


def test_diversify_lets_a_second_server_in() -> None:
    tools = [_t("a__1", 1.0), _t("a__2", 0.97), _t("a__3", 0.96), _t("b__1", 0.94)]
    out = [t.key for t in diversify(tools, lambda k: k.split("__")[0], penalty=0.05)]
    assert out == ["a__1", "b__1", "a__2", "a__3"]  # b__1 (0.94) beats a__2 once a__2 pays 0.05
    assert [t.key for t in diversify(tools, lambda k: k.split("__")[0], penalty=0.0)] == [
        t.key for t in tools
    ]
    assert sorted(out) == sorted(t.key for t in tools)
