"""Backtests on the shipped NAB data: quick subsets always, the full run marked slow."""

from __future__ import annotations

import pytest

from ucp.bench.cloud import backtest


@pytest.mark.slow
def test_full_backtest_is_in_a_sane_range() -> None:
    """Every backtest on its real data; the forecasting part on the dev series without the
    statsforecast peers (they are the ``bench`` extra, and ~1,000 fits: ``ucp bench cloud`` runs them)."""
    from ucp.bench.cloud import forecasting, nab

    res = backtest.run_backtests(forecast=False)
    res["forecast"] = forecasting.forecast_backtest(list(nab.DEV), peers=False)
    med = res["forecast"]["median_mase"]["dev"]
    assert med["selected"] <= med["holt_winters"]
    assert 0.2 < med["naive"] < 1.5
    assert res["anomaly"]["best_on_dev"] == "shesd/low"  # the tool's default
    rows = {(r["detector"], r["split"]): r for r in res["anomaly"]["rows"]}
    assert (
        rows[("shesd/low", "all")]["false_alarms_per_day"]
        <= rows[("shesd/medium", "all")]["false_alarms_per_day"]
    )
    assert all(0 <= r["ffd_gap_pct"] <= 10 and 0 <= r["bfd_gap_pct"] <= 10 for r in res["packing"]["rows"])
    assert "### Forecasting" in backtest.to_markdown(res)
