"""recommend_container_resources: VPA constants by hand, widening, OOM bump, ordered bounds."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builtins.cloud.conftest import call, error_field, series
from ucp.builtins.cloud.containers import recommend_container_resources as containers
from ucp.builtins.cloud.containers import vpa

TOOL = containers.TOOL
MiB = 2**20
GiB = 2**30


def bucket_end_for(value: float, first: float) -> float:
    """Independent statement of VPA's exponential buckets (first size, each 5% wider)."""
    start, size = 0.0, first
    while start + size <= value:
        start += size
        size *= 1.05
    return start + size


def test_bucket_layout() -> None:
    h = vpa.CPU_HISTOGRAM
    assert float(h.bucket_start(1)) == pytest.approx(0.01)
    assert float(h.bucket_start(2)) == pytest.approx(0.01 + 0.0105)
    assert int(h.find_bucket(np.array([0.005]))[0]) == 0
    assert int(h.find_bucket(np.array([0.015]))[0]) == 1
    assert vpa.MEMORY_HISTOGRAM.first == 1e7


def test_constant_cpu_target_is_bucket_end_plus_margin() -> None:
    out = call(TOOL, {"containers": [{"name": "app", "cpu": series([0.5] * (8 * 288))}]})
    rec = out["recommendations"][0]
    end = bucket_end_for(0.5, 0.01)
    assert rec["cpu_cores"]["target"] == pytest.approx(end * 1.15, rel=1e-6)
    conf = rec["confidence_days"]
    assert conf == pytest.approx(8 - 5 / 1440, rel=1e-3)
    assert rec["cpu_cores"]["upper_bound"] == pytest.approx(end * 1.15 * (1 + 1 / conf), rel=1e-6)
    assert rec["cpu_cores"]["lower_bound"] == pytest.approx(end * 1.15 * (1 + 0.001 / conf) ** -2, rel=1e-6)
    assert rec["memory_bytes"] is None


@pytest.mark.parametrize(("days", "factor"), [(1, 2.0), (7, 1 + 1 / 7)])
def test_upper_bound_widens_with_little_history(days: int, factor: float) -> None:
    out = call(TOOL, {"containers": [{"name": "a", "cpu": series([0.3] * (days * 288 + 1))}]})
    b = out["recommendations"][0]["cpu_cores"]
    assert b["upper_bound"] / b["target"] == pytest.approx(factor, rel=1e-3)


def test_minimums_apply() -> None:
    out = call(
        TOOL, {"containers": [{"name": "tiny", "cpu": series([0.001] * 300), "memory": series([1e6] * 300)}]}
    )
    rec = out["recommendations"][0]
    assert rec["cpu_cores"]["target"] == pytest.approx(0.025)
    assert rec["cpu_cores"]["lower_bound"] == pytest.approx(0.025)
    assert rec["memory_bytes"]["target"] == 250 * MiB
    assert rec["guaranteed"]["requests"] == {"cpu": "25m", "memory": "250Mi"}


def test_memory_uses_daily_peaks() -> None:
    # one 2 GiB spike a day over a 1 GiB baseline: every daily peak is 2 GiB, so p50 = p90 = 2 GiB buckets
    vals = [GiB if i % 288 else 2 * GiB for i in range(8 * 288)]
    rec = call(TOOL, {"containers": [{"name": "m", "memory": series(vals)}]})["recommendations"][0]
    assert rec["memory_bytes"]["target"] == pytest.approx(bucket_end_for(2 * GiB, 1e7) * 1.15, rel=1e-6)


def test_oom_bump_rule() -> None:
    t = np.arange(10) * 300.0
    # request 1 GiB: used = 1 GiB, needed = max(1 GiB + 100 MiB, 1.2 GiB) = 1.2 GiB
    _, peaks, bumps = vpa.memory_peaks(t, np.full(10, 0.5 * GiB), [(1500.0, float(GiB))])
    assert bumps == 1
    assert peaks.max() == pytest.approx(1.2 * GiB)
    # request 200 MiB: +100 MiB beats +20%
    _, peaks, _ = vpa.memory_peaks(t, np.full(10, 100 * MiB), [(1500.0, 200 * MiB)])
    assert peaks.max() == pytest.approx(300 * MiB)


def test_oom_raises_the_recommendation() -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    base = {
        "name": "db",
        "memory": series([400 * MiB] * (3 * 288), start=t0),
        "current_requests": {"memory_bytes": 512 * MiB},
    }
    plain = call(TOOL, {"containers": [base]})["recommendations"][0]
    oom = call(
        TOOL,
        {
            "containers": [
                {**base, "oom_events": [{"timestamp": (t0 + timedelta(days=2, hours=1)).isoformat()}]}
            ]
        },
    )
    rec = oom["recommendations"][0]
    assert rec["oom_bumps"] == 1
    assert rec["memory_bytes"]["upper_bound"] > plain["memory_bytes"]["upper_bound"]
    assert rec["change_vs_current"]["memory"] == pytest.approx(
        rec["memory_bytes"]["target"] / (512 * MiB), rel=1e-3
    )


def test_goldilocks_mapping_and_policy_caps() -> None:
    rec = call(
        TOOL,
        {
            "containers": [
                {
                    "name": "w",
                    "cpu": series(list(np.linspace(0.1, 1.0, 600))),
                    "max_allowed": {"cpu_cores": 0.8},
                }
            ]
        },
    )["recommendations"][0]
    b = rec["cpu_cores"]
    assert b["upper_bound"] == pytest.approx(0.8)
    assert rec["guaranteed"]["requests"] == rec["guaranteed"]["limits"]
    assert rec["guaranteed"]["requests"]["cpu"] == f"{math.ceil(b['target'] * 1000)}m"
    assert rec["burstable"]["requests"]["cpu"] == f"{math.ceil(b['lower_bound'] * 1000)}m"
    assert rec["burstable"]["limits"]["cpu"] == "800m"


@settings(max_examples=60, deadline=None)
@given(
    cpu=st.lists(st.floats(0, 64, allow_nan=False), min_size=2, max_size=200),
    mem=st.lists(st.floats(0, 2e11, allow_nan=False), min_size=2, max_size=200),
    step_min=st.sampled_from([1, 5, 60, 600]),
    lo=st.none() | st.floats(0, 1),
)
def test_bounds_are_ordered(cpu: list[float], mem: list[float], step_min: int, lo: float | None) -> None:
    c: dict[str, Any] = {
        "name": "x",
        "cpu": series(cpu, step_min=step_min),
        "memory": series(mem, step_min=step_min),
    }
    if lo is not None:
        c["min_allowed"] = {"cpu_cores": lo}
        c["max_allowed"] = {"cpu_cores": lo + 2}
    rec = call(TOOL, {"containers": [c]})["recommendations"][0]
    for key in ("cpu_cores", "memory_bytes"):
        b = rec[key]
        assert b["lower_bound"] <= b["target"] <= b["upper_bound"]
        assert all(math.isfinite(v) for v in b.values())


def test_bad_inputs() -> None:
    neg = series([0.1] * 10)
    neg[3]["value"] = -0.5
    assert error_field(TOOL, {"containers": [{"name": "a", "cpu": neg}]}) == "containers[0].cpu[3].value"
    assert error_field(TOOL, {"containers": [{"name": "a"}]}) == "containers[0]"
    assert error_field(TOOL, {"containers": []}) == "containers"
    assert (
        error_field(
            TOOL,
            {
                "containers": [
                    {
                        "name": "a",
                        "cpu": series([0.1] * 10),
                        "oom_events": [{"timestamp": "2026-01-05T00:00:00Z"}],
                    }
                ]
            },
        )
        == "containers[0].oom_events"
    )
    assert (
        error_field(
            TOOL,
            {
                "containers": [
                    {
                        "name": "a",
                        "cpu": series([0.1] * 10),
                        "min_allowed": {"cpu_cores": 2},
                        "max_allowed": {"cpu_cores": 1},
                    }
                ]
            },
        )
        == "containers[0].max_allowed.cpu_cores"
    )
