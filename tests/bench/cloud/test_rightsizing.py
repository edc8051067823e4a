"""Rightsizing backtest: the shipped tool, CPU only, scored on the following week."""

from __future__ import annotations

from ucp.bench.cloud import rightsizing
from ucp.bench.cloud.backtest import to_markdown


def test_cpu_only_rightsizing_downsizes_and_reports_risk() -> None:
    names = ("ec2_cpu_utilization_5f5533", "ec2_cpu_utilization_fe7f93")
    res = rightsizing.rightsize_backtest(names, ("aws-default", "vpa-like"))
    rows = {(r["profile"], r["split"]): r for r in res["rows"]}
    aws, vpa = rows[("aws-default", "all")], rows[("vpa-like", "all")]
    assert aws["series"] == 2 and aws["downsized"] >= 1  # CPU alone now downsizes
    assert 0 < aws["mean_saving_pct"] <= vpa["mean_saving_pct"]  # less headroom never saves less
    assert aws["saturated_intervals_pct"] <= vpa["saturated_intervals_pct"]
    assert aws["saturated_and_warned"] <= aws["series_saturated"]
    assert "| aws-default | all |" in to_markdown({"rightsizing": res})
