"""Anomaly backtest: recall next to recall by chance, and the default chosen on dev."""

from __future__ import annotations

from ucp.bench.cloud import anomalies


def test_chance_recall_is_reported_and_bounded() -> None:
    res = anomalies.anomaly_backtest(
        ["ec2_cpu_utilization_825cc2", "rds_cpu_utilization_e47b3b"],
        configs=(("shesd", "low"), ("robust_z", "high")),
    )
    rows = {(r["detector"], r["split"]): r for r in res["rows"]}
    for r in rows.values():
        assert 0 <= r["chance_recall"] <= 1 and 0 <= r["recall"] <= 1
        assert abs(r["adjusted_recall"] - (r["recall"] - r["chance_recall"])) < 1e-12
        assert r["false_alarms_per_day"] >= 0
    # flagging more points raises the chance recall: robust_z/high flags far more than shesd/low
    assert rows[("robust_z/high", "all")]["flagged_share"] > rows[("shesd/low", "all")]["flagged_share"]
    assert rows[("robust_z/high", "all")]["chance_recall"] > rows[("shesd/low", "all")]["chance_recall"]


def test_default_choice_breaks_near_ties_by_false_alarms() -> None:
    def row(det: str, adj: float, fa: float) -> dict[str, object]:
        return {
            "detector": det,
            "split": "dev",
            "adjusted_recall": adj,
            "false_alarms_per_day": fa,
            "windows": 10,
        }

    rows = [row("a", 0.30, 2.0), row("b", 0.25, 1.0), row("c", 0.10, 0.1)]
    assert anomalies.choose_default(rows) == "b"  # within 1/10 of the best, fewer false alarms
    assert anomalies.choose_default([row("a", 0.30, 2.0), row("c", 0.10, 0.1)]) == "a"


def test_the_tool_default_is_the_configuration_chosen_on_dev() -> None:
    from ucp.builtins.cloud.anomalies.detect_anomalies import AnomalyInput

    fields = AnomalyInput.model_fields
    default = f"{fields['method'].default}/{fields['sensitivity'].default}"
    assert default == "shesd/low"  # = anomaly_backtest()["best_on_dev"] (full run: tests marked slow)


def test_markdown_marks_the_default() -> None:
    from ucp.bench.cloud.backtest import to_markdown

    res = anomalies.anomaly_backtest(["ec2_cpu_utilization_825cc2"], configs=(("shesd", "low"),))
    md = to_markdown({"anomaly": res})
    assert "| shesd/low (default) | dev |" in md and "chance recall" in md
