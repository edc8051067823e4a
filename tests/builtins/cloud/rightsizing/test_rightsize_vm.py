"""rightsize_vm: hand-computed profiles, memory refusal, backtest, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tests.builtins.cloud.conftest import call, error_field, series
from ucp.builtins.cloud.rightsizing import rightsize_vm as rightsize

TOOL = rightsize.TOOL
DAY = 288  # 5-minute points per day


def test_keep_memory_never_cuts_memory() -> None:
    cpu = series([10.0] * (14 * DAY))
    out = call(TOOL, {"current_instance_type": "m5.2xlarge", "cpu": cpu, "without_memory": "keep_memory"})
    # 10% of 8 vCPU = 0.8; p99.5 + 20% = 0.96 vCPU, but memory must stay >= 32 GiB -> m5 cannot shrink
    assert out["required_vcpu"] == pytest.approx(0.96)
    assert out["required_memory_gib"] == 32.0
    assert out["finding"] == "optimized"
    assert any("memory" in w.lower() for w in out["warnings"])
    # across families, the cheapest type with >= 0.96 vCPU and >= 32 GiB: r5.xlarge
    out = call(
        TOOL,
        {
            "current_instance_type": "m5.2xlarge",
            "cpu": cpu,
            "candidate_families": ["m5", "r5"],
            "without_memory": "keep_memory",
        },
    )
    assert out["recommended"]["instance_type"] == "r5.xlarge"
    assert out["recommended"]["memory_gib"] >= 32


def test_with_memory_data_downsizes_and_saving_is_hand_computed() -> None:
    cpu = series([10.0] * (14 * DAY))
    mem = series([10.0] * (14 * DAY))
    out = call(TOOL, {"current_instance_type": "m5.2xlarge", "cpu": cpu, "memory": mem})
    assert out["required_memory_gib"] == pytest.approx(3.2 * 1.2)
    assert out["recommended"]["instance_type"] == "m5.large"
    assert out["finding"] == "over-provisioned"
    assert out["saving_pct"] == pytest.approx(75.0)  # 0.096 vs 0.384 USD/h
    assert out["saving_usd_month"] == pytest.approx((0.384 - 0.096) * 730, abs=0.01)
    assert out["in_sample_cpu_saturated_share"] == 0.0


@pytest.mark.parametrize(
    ("profile", "pct", "factor"),
    [
        ("aws-default", 99.5, 1.2),
        ("vpa-like", 90, 1.15),
        ("azure-user-facing", 95, 2.5),
        ("azure-batch", 95, 1.25),
    ],
)
def test_profiles_percentile_and_headroom(profile: str, pct: float, factor: float) -> None:
    rng = np.random.default_rng(7)
    vals = rng.uniform(0, 40, 14 * DAY)
    out = call(TOOL, {"current_instance_type": "m5.4xlarge", "cpu": series(list(vals)), "profile": profile})
    expected = np.percentile(vals, pct) / 100 * 16 * factor
    assert out["required_vcpu"] == pytest.approx(expected, rel=1e-3)
    assert out["method"]["parameters"]["cpu_percentile"] == pct


def test_custom_profile() -> None:
    vals = list(np.linspace(0, 50, 3 * DAY))
    out = call(
        TOOL,
        {
            "current_instance_type": "m5.2xlarge",
            "cpu": series(vals),
            "profile": "custom",
            "custom": {"cpu_percentile": 50, "cpu_headroom_pct": 0},
        },
    )
    assert out["required_vcpu"] == pytest.approx(np.percentile(vals, 50) / 100 * 8, rel=1e-6)
    assert (
        error_field(TOOL, {"current_instance_type": "m5.2xlarge", "cpu": series(vals), "profile": "custom"})
        == "custom"
    )
    assert (
        error_field(
            TOOL,
            {
                "current_instance_type": "m5.2xlarge",
                "cpu": series(vals),
                "custom": {"cpu_percentile": 50, "cpu_headroom_pct": 0},
            },
        )
        == "custom"
    )


def test_backtest_reports_saturation_out_of_sample() -> None:
    # week 1 at 10% (0.8 vCPU), week 2 at 50% (4 vCPU): a plan from week 1 saturates all of week 2
    vals = [10.0] * (7 * DAY) + [50.0] * (7 * DAY)
    mem = series([10.0] * (14 * DAY))
    out = call(TOOL, {"current_instance_type": "m5.2xlarge", "cpu": series(vals), "memory": mem})
    bt = out["backtest"]
    assert bt["recommended_type"] == "m5.large"
    assert bt["cpu_saturated_share"] == pytest.approx(1.0, abs=0.01)
    # the full-series recommendation covers the 50% weeks: p99.5 = 50% -> 4 vCPU x 1.2 = 4.8 -> m5.2xlarge
    assert out["recommended"]["instance_type"] == "m5.2xlarge"


def test_short_history_and_censoring_warnings() -> None:
    out = call(TOOL, {"current_instance_type": "m5.xlarge", "cpu": series([99.0] * 100)})
    text = " ".join(out["warnings"])
    assert "30 h" in text
    assert "censored" in text
    assert out["backtest"] is None
    assert out["confidence"].startswith("low")


def test_azure_shutdown_rule() -> None:
    idle = call(
        TOOL,
        {"current_instance_type": "m5.large", "cpu": series([1.0] * (7 * DAY)), "profile": "azure-batch"},
    )
    assert idle["shutdown_candidate"] is True
    busy = call(
        TOOL,
        {
            "current_instance_type": "m5.large",
            "cpu": series([1.0] * (7 * DAY - 10) + [50.0] * 10),
            "profile": "azure-batch",
        },
    )
    assert busy["shutdown_candidate"] is False
    assert (
        call(TOOL, {"current_instance_type": "m5.large", "cpu": series([1.0] * 50)})["shutdown_candidate"]
        is None
    )


def test_bad_inputs() -> None:
    ok = series([10.0] * 50)
    assert error_field(TOOL, {"current_instance_type": "m5.gigantic", "cpu": ok}) == "current_instance_type"
    bad = series([10.0] * 50)
    bad[7]["value"] = 140.0
    assert error_field(TOOL, {"current_instance_type": "m5.large", "cpu": bad}) == "cpu[7].value"
    assert (
        error_field(TOOL, {"current_instance_type": "m5.large", "cpu": ok, "memory": series([-1.0] * 50)})
        == "memory[0].value"
    )
    assert (
        error_field(TOOL, {"current_instance_type": "m5.large", "cpu": ok, "candidate_families": ["zz"]})
        == "candidate_families[0]"
    )
    assert (
        error_field(TOOL, {"current_instance_type": "m8i.metal-48xl", "cpu": ok}) == "current_instance_type"
    )
    assert error_field(TOOL, {"current_instance_type": "m5.large", "cpu": series([1.0, 2.0])}) == "cpu"


def test_memory_sampled_differently_from_cpu() -> None:
    # 1-minute CPU (aggregated to 5-minute maxima) and 5-minute memory: each keeps its own clock
    cpu = series([20.0] * (3 * 1440), step_min=1)
    mem = series([10.0] * (3 * DAY))
    out = call(TOOL, {"current_instance_type": "m5.xlarge", "cpu": cpu, "memory": mem, "profile": "vpa-like"})
    assert out["required_memory_gib"] == pytest.approx(1.6 * 1.15)  # p90 of daily peaks of 10% x 16 GiB, +15%
    assert out["required_vcpu"] == pytest.approx(0.8 * 1.15)


def test_cpu_only_searches_same_generation_cmr_and_says_memory_is_unchecked() -> None:
    cpu = series([10.0 + (i % 7) for i in range(14 * DAY)])
    out = call(TOOL, {"current_instance_type": "m5.2xlarge", "cpu": cpu})
    assert out["memory_checked"] is False and out["required_memory_gib"] is None
    assert out["method"]["parameters"]["families"] == ["c5", "m5", "r5"]
    # p99.5 of 10-16% of 8 vCPU x 1.2 = 1.54 vCPU: the cheapest type with 2 vCPU across c5/m5/r5
    assert out["recommended"]["instance_type"] == "c5.large"
    assert out["finding"] == "over-provisioned" and out["saving_pct"] > 70
    assert {a["instance_type"] for a in out["alternatives"]} == {"m5.large", "r5.large"}
    assert any("Memory not observed" in w and "4 GiB against 32 GiB" in w for w in out["warnings"])


def test_idle_machine_is_reported_idle_not_optimized() -> None:
    out = call(TOOL, {"current_instance_type": "m5.large", "cpu": series([2.5] * (14 * DAY))})
    assert out["finding"] == "idle"
    assert any(w.startswith("Idle:") for w in out["warnings"])
    busy = call(TOOL, {"current_instance_type": "m5.large", "cpu": series([40.0] * (14 * DAY))})
    assert busy["finding"] != "idle"


def test_backtest_saturation_is_a_warning() -> None:
    cpu = series([5.0] * (7 * DAY) + [60.0] * (7 * DAY))
    out = call(TOOL, {"current_instance_type": "m5.2xlarge", "cpu": cpu, "profile": "vpa-like"})
    assert out["backtest"]["cpu_saturated_share"] > 0.01
    assert any("own backtest" in w for w in out["warnings"])
    calm = call(TOOL, {"current_instance_type": "m5.2xlarge", "cpu": series([10.0] * (14 * DAY))})
    assert not any("own backtest" in w for w in calm["warnings"])


def test_burstable_credits_are_modelled() -> None:
    # t3.medium: 2 vCPU, baseline 20% per vCPU; a steady 50% drains the 24 h balance in under a day
    hot = call(TOOL, {"current_instance_type": "t3.medium", "cpu": series([50.0] * (7 * DAY))})
    assert hot["burst"]["instance_type"] == "t3.medium"
    assert hot["burst"]["baseline_pct_per_vcpu"] == 20.0
    assert 0.5 < hot["burst"]["throttled_share_standard"] < 1
    # unlimited mode: (50% - 20%) x 2 vCPU = 0.6 vCPU-h of surplus an hour at USD 0.05, once the balance is gone
    assert 0 < hot["burst"]["unlimited_surplus_usd_month"] <= 0.6 * 0.05 * 730 + 1e-6
    cool = call(TOOL, {"current_instance_type": "t3.medium", "cpu": series([10.0] * (7 * DAY))})
    assert cool["burst"]["throttled_share_standard"] == 0.0


def test_burstable_candidates_whose_credits_run_out_are_skipped() -> None:
    # 30% of an m5.large (0.6 vCPU, p99.5+20% = 0.72): t3.small (2 vCPU, 20% baseline = 0.4 vCPU) would drain
    out = call(
        TOOL,
        {
            "current_instance_type": "m5.large",
            "cpu": series([30.0] * (7 * DAY)),
            "candidate_families": ["t3", "m5"],
        },
    )
    rec = out["recommended"]["instance_type"]
    assert rec not in ("t3.micro", "t3.small", "t3.nano")
    assert any("Skipped burstable" in w for w in out["warnings"])


def test_current_generation_types_have_specs() -> None:
    out = call(TOOL, {"current_instance_type": "m8i.2xlarge", "cpu": series([10.0] * (14 * DAY))})
    assert out["current"]["vcpu"] == 8 and out["current"]["memory_gib"] == 32
    assert out["method"]["parameters"]["families"] == ["c8i", "m8i", "r8i"]
    assert any("derived from the EC2 naming convention" in d["name"] for d in out["data_sources"])
