"""The CPU-credit model of burstable types, hand-computed."""

from __future__ import annotations

import numpy as np
import pytest

from ucp.builtins.cloud.rightsizing import burst


def test_baselines_are_aws_figures() -> None:
    assert burst.baseline("t3", "medium") == 0.20
    assert burst.baseline("t4g", "xlarge") == 0.40
    assert burst.baseline("t2", "2xlarge") == 0.17
    assert burst.baseline("m5", "large") is None


def test_demand_at_baseline_never_drains() -> None:
    run = burst.simulate(np.full(288 * 7, 0.4), 300, 2, 0.20)  # t3.medium at exactly 0.4 vCPU
    assert run.throttled_share == 0 and run.surplus_vcpu_hours == 0 and run.min_balance_share == 1


def test_full_balance_lasts_as_computed() -> None:
    # 2 vCPU, 20% baseline: earns 0.4 vCPU-min/min, holds 24 h x 60 x 0.4 = 576 credits.
    # At 1.4 vCPU it loses 1 credit a minute: empty after 576 min = 115.2 five-minute intervals.
    n = 288
    run = burst.simulate(np.full(n, 1.4), 300, 2, 0.20)
    assert run.throttled_share == pytest.approx((n - 116) / n, abs=1 / n)
    # surplus: 1 vCPU-minute per minute once empty, billed per vCPU-hour
    assert run.surplus_vcpu_hours == pytest.approx((n * 5 - 576) / 60, rel=0.01)
    assert run.surplus_usd_per_hour == pytest.approx(0.05 * run.surplus_vcpu_hours / 24, rel=1e-9)
