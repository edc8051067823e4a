"""`ucp bench observe` runs every variant side by side (tiny sizes: a smoke test of the harness)."""

from __future__ import annotations

from ucp.bench.observe import VARIANTS, run_observe_bench


def test_every_variant_is_measured_against_the_baseline() -> None:
    result = run_observe_bench(calls=20, rounds=1, warmup=5)
    rows = {r["variant"]: r for r in result["rows"]}
    assert set(rows) == set(VARIANTS)
    assert all(r["calls"] == 20 and r["p50_ms"] > 0 for r in rows.values())
    assert rows["none"]["overhead_p50_ms"] == 0 and rows["none"]["ratio_p50"] == 1.0
