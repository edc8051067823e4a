"""Rolling-origin forecasting backtest: out-of-sample selection, peers side by side."""

from __future__ import annotations

import math

import pytest

from ucp.bench.cloud import forecasting
from ucp.builtins.cloud.forecasting import methods


@pytest.mark.slow  # 9-18 s in the unit tier (statsmodels fits)
def test_rolling_origins_score_every_column_and_the_selection() -> None:
    res = forecasting.forecast_backtest(["ec2_cpu_utilization_5f5533"], origins=2, peers=False)
    row = res["rows"][0]
    assert row["origins"] == 2 and row["split"] == "dev"
    assert len(row["selected_models"]) == 2 and set(row["selected_models"]) <= set(methods.MODELS)
    assert all(math.isfinite(row[m]) and row[m] >= 0 for m in methods.MODELS)
    # the selection picks one of the candidates at each origin, so it lies within their range
    lo, hi = min(row[m] for m in methods.MODELS), max(row[m] for m in methods.MODELS)
    assert lo - 1e-9 <= row["selected"] <= hi + 1e-9
    assert row["autoets"] is None  # peers off
    assert res["median_mase"]["dev"]["series"] == 1


def test_selection_uses_only_earlier_origins() -> None:
    """At origin k the inner folds are k+1..k+FOLDS: the outer test window is never seen."""
    assert forecasting.FOLDS >= 1 and forecasting.ORIGINS >= 5


def test_markdown_puts_peers_next_to_ucp() -> None:
    from ucp.bench.cloud.backtest import to_markdown

    res = forecasting.forecast_backtest(["ec2_cpu_utilization_5f5533"], origins=1, peers=False)
    md = to_markdown({"forecast": res})
    assert "| **UCP selected** |" in md and "| AutoETS (statsforecast) |" in md and "dev (1 series)" in md
