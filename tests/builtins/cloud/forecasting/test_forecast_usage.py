"""forecast_usage: baselines by hand, MASE, model choice on clear cases, bad input."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import numpy as np
import pytest

from tests.builtins.cloud.conftest import call, error_field, series
from ucp.builtins.cloud.forecasting import forecast_usage as forecast
from ucp.builtins.cloud.forecasting import methods as fcmodels

TOOL = forecast.TOOL


def test_naive_and_seasonal_naive_by_hand() -> None:
    y = np.array([1.0, 2, 3, 4, 5, 6])
    assert list(fcmodels.naive(y, 3, 1, 0.9).mean) == [6, 6, 6]
    assert list(fcmodels.seasonal_naive(y, 5, 3, 0.9).mean) == [4, 5, 6, 4, 5]
    # in-sample seasonal-naive MAE with lag 3: |4-1|, |5-2|, |6-3| -> 3
    assert fcmodels.mase_scale(y, 3) == pytest.approx(3.0)
    assert fcmodels.mase_scale(y, 10) == pytest.approx(1.0)  # season longer than data: lag 1


@pytest.mark.slow  # 9-18 s in the unit tier (statsmodels fits)
def test_seasonal_series_picks_a_seasonal_model_and_beats_naive() -> None:
    rng = np.random.default_rng(3)
    n = 24 * 14
    vals = 50 + 20 * np.sin(2 * np.pi * np.arange(n) / 24) + rng.normal(0, 1, n)
    out = call(TOOL, {"series": series(list(vals), step_min=60), "horizon": 24})
    assert out["selected_model"] != "naive"
    assert out["skill_vs_naive"] > 0.5
    scores = {s["model"]: s["mase"] for s in out["backtest"]}
    assert scores[out["selected_model"]] == min(v for v in scores.values() if v is not None)
    assert out["season_length"] == 24
    pts = out["forecast"]
    assert len(pts) == 24
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in pts)
    # the forecast follows the sine: error well under its amplitude
    t_next = n + np.arange(24)
    truth = 50 + 20 * np.sin(2 * np.pi * t_next / 24)
    assert float(np.mean(np.abs(np.array([p["value"] for p in pts]) - truth))) < 5


def test_random_walk_keeps_naive_competitive() -> None:
    rng = np.random.default_rng(11)
    vals = 100 + np.cumsum(rng.normal(0, 1, 24 * 10))
    out = call(TOOL, {"series": series(list(vals), step_min=60), "horizon": 12})
    scores = {s["model"]: s["mase"] for s in out["backtest"]}
    assert scores["naive"] <= scores["seasonal_naive"]


def test_timestamps_continue_the_series_on_the_grid() -> None:
    vals = list(np.arange(5 * 288) % 288 / 10)
    out = call(TOOL, {"series": series(vals), "horizon": 6, "models": ["naive", "seasonal_naive"]})
    assert out["interval_minutes"] == 60  # 5-minute data aggregated to hours by default
    ts = [datetime.fromisoformat(p["timestamp"]) for p in out["forecast"]]
    assert all((b - a).total_seconds() == 3600 for a, b in pairwise(ts))
    assert any("Aggregated" in a for a in out["assumptions"])


@pytest.mark.slow  # 9-18 s in the unit tier (statsmodels fits)
def test_constant_series_is_handled() -> None:
    out = call(TOOL, {"series": series([5.0] * 24 * 5, step_min=60), "horizon": 6})
    assert all(p["value"] == pytest.approx(5.0) for p in out["forecast"])
    assert any("constant" in w for w in out["warnings"])


def test_gap_is_interpolated_only_for_fitting_and_said_so() -> None:
    pts = series(list(10 + np.sin(np.arange(24 * 6) / 3)), step_min=60)
    del pts[50:60]
    out = call(TOOL, {"series": pts, "horizon": 6, "models": ["naive"]})
    assert any("gap" in w for w in out["warnings"])
    assert any("interpolated" in a for a in out["assumptions"])


def test_bad_inputs() -> None:
    assert error_field(TOOL, {"series": series([1.0] * 10, step_min=60), "horizon": 24}) == "series"
    assert error_field(TOOL, {"series": series([1.0] * 100), "interval_minutes": 1}) == "interval_minutes"
    assert error_field(TOOL, {"series": series([1.0] * 100), "models": ["prophet"]}) == "models[0]"
    assert error_field(TOOL, {"series": series([1.0] * 100), "horizon": 0}) == "horizon"


def test_long_series_fit_on_a_bounded_window() -> None:
    import numpy as np

    n = forecast.MAX_FIT_POINTS + 500
    y = 50 + 10 * np.sin(np.arange(n) * 2 * np.pi / 24)
    out = call(
        forecast.TOOL, {"series": series(y.tolist(), step_min=60), "models": ["naive", "seasonal_naive"]}
    )
    assert any(f"last {forecast.MAX_FIT_POINTS} of {n} steps" in a for a in out["assumptions"])
    assert out["selected_model"] == "seasonal_naive"
