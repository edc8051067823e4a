"""Backtests on the shipped NAB data: quick subsets always, the full run marked slow."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ucp.bench.cloud import backtest
from ucp.builtins.base import ToolInputError
from ucp.builtins.cloud.common.series import CsvSeries, load_series


def test_shipped_nab_data_and_labels() -> None:
    names = backtest.nab_names()
    assert len(names) == 17
    labels = backtest.labelled_windows()
    assert sum(len(labels[n]) for n in names) == 30
    s = backtest.load_nab("ec2_cpu_utilization_5f5533")
    assert len(s) == 4032
    assert s.step_s == 300


def test_nab_dst_duplicates_are_rejected_by_the_tools() -> None:
    s = backtest.load_nab("ec2_network_in_5abac7")  # the harness dedupes...
    assert np.all(np.diff(s.t) > 0)
    path = backtest._nab_dir().joinpath("ec2_network_in_5abac7.csv.gz")
    with pytest.raises(ToolInputError) as exc:  # ...the tools refuse the raw file and name it
        load_series(CsvSeries(csv_path=str(path)), "series")
    assert exc.value.field == "series.csv_path"
    assert "line 2120" in exc.value.problem


def test_forecast_backtest_subset() -> None:
    res = backtest.forecast_backtest(["ec2_cpu_utilization_5f5533"])
    row = res["rows"][0]
    assert row["selected_model"] in ("naive", "seasonal_naive", "holt_winters", "stl_ets")
    assert all(
        math.isfinite(row[m]) and row[m] >= 0 for m in ("naive", "seasonal_naive", "holt_winters", "stl_ets")
    )


def test_anomaly_backtest_subset() -> None:
    res = backtest.anomaly_backtest(["ec2_cpu_utilization_825cc2", "rds_cpu_utilization_e47b3b"])
    for row in res["rows"]:
        assert row["windows"] == 3
        assert 0 <= row["recall"] <= 1
        assert row["false_alarms_per_day"] >= 0


def test_rightsize_backtest_orders_risk() -> None:
    res = backtest.rightsize_backtest()
    rows = {r["profile"]: r for r in res["rows"]}
    # more headroom never saves more in this family: p99.5 + 20% saves no more than p90 + 15%
    assert rows["aws-default"]["mean_saving_pct"] <= rows["vpa-like"]["mean_saving_pct"]
    assert rows["aws-default"]["saturated_intervals_pct"] <= rows["vpa-like"]["saturated_intervals_pct"]
    md = backtest.to_markdown({"rightsizing": res})
    assert "| aws-default |" in md


@pytest.mark.slow
def test_full_backtest_is_in_a_sane_range() -> None:
    res = backtest.run_backtests()
    med = res["forecast"]["median_mase"]
    assert med["selected"] <= med["seasonal_naive"]
    assert 0.2 < med["naive"] < 1.5
    rows = {r["detector"]: r for r in res["anomaly"]["rows"]}
    assert rows["robust_z/medium"]["recall"] >= 0.8
    assert rows["shesd/low"]["false_alarms_per_day"] <= rows["shesd/medium"]["false_alarms_per_day"]
    assert all(0 <= r["ffd_gap_pct"] <= 10 and 0 <= r["bfd_gap_pct"] <= 10 for r in res["packing"]["rows"])
    assert "### Forecasting" in backtest.to_markdown(res)
