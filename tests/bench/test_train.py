"""The training bench (``ucp bench train``): halves and cross rows for every trained part, the knob
sweep, on small data the project ships (the metatool slice split into two catalogs) with the hashing
embedder (no model load)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from tests.bench.slices import two_sets
from ucp.bench.train import METRICS, VARIANTS, render_train, run_train_bench
from ucp.router.embedder import HashingEmbedder


def test_train_bench_reports_every_part_on_halves_and_cross(tmp_path: Path) -> None:
    result = run_train_bench(
        two_sets(tmp_path),
        embedder=HashingEmbedder(dim=64),
        limit=None,
        epochs=3,
        progress=False,
        with_sweep=True,
    )
    assert set(result["halves"]) == {"a", "b"} and len(result["cross"]) == 2
    for h in result["halves"].values():
        assert h["train_pairs"] > 0 and all(v >= 0.0 for v in h["cpu_s"].values())
        assert set(h["rows"]) == set(VARIANTS) and 0.0 <= h["seen_relevant_sets"] <= 1.0
        base = h["rows"]["untrained"]
        for v, m in h["rows"].items():
            assert all(0.0 <= m[k] <= 1.0 for k in METRICS)
            assert h["gain_recall@5"][v] == pytest.approx(m["recall@5"] - base["recall@5"])
        # co-usage protects positions 1-5: R@5 is the untrained router's exactly
        assert h["rows"]["co"]["recall@5"] == base["recall@5"]
        assert h["trained"] == h["rows"]["adapter"]
    for c in result["cross"]:
        # the tool-side parts are keyed by the source catalog's tools: a no-op on the other catalog
        for k in METRICS:
            assert c["rows"]["expansion"][k] == c["rows"]["untrained"][k]
    sweep = result["sweep"]["a"]
    assert sweep["expansion"] and sweep["max_queries"] and sweep["co_usage"]
    console = Console(width=200, record=True, file=io.StringIO())
    tables = render_train(result)
    assert len(tables) == 2 + 3 * 2
    for t in tables:
        console.print(t)
    assert "both+co" in console.export_text()
