"""CPU-credit model of the burstable EC2 families (t2, t3, t3a, t4g), pure.

A burstable type earns credits at its baseline (a share of each vCPU) and spends them above
it; one credit is one vCPU-minute, and the balance holds at most 24 hours of earnings. In
``standard`` mode an empty balance throttles the instance to its baseline; in ``unlimited``
mode it keeps bursting and pays for the surplus (USD 0.05 per vCPU-hour for Linux). The
baselines are AWS's published figures (EC2 User Guide, "Key concepts for burstable
performance instances", CC BY-SA 4.0). The balance starts full: a machine that has been
running at its observed demand for a while, not a fresh launch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BASELINE = {  # share of each vCPU a type may use without spending credits
    "t3": {
        "nano": 0.05,
        "micro": 0.10,
        "small": 0.20,
        "medium": 0.20,
        "large": 0.30,
        "xlarge": 0.40,
        "2xlarge": 0.40,
    },
    "t2": {
        "nano": 0.05,
        "micro": 0.10,
        "small": 0.20,
        "medium": 0.20,
        "large": 0.30,
        "xlarge": 0.225,
        "2xlarge": 0.17,
    },
}
BASELINE["t3a"] = BASELINE["t4g"] = BASELINE["t3"]
SURPLUS_USD_PER_VCPU_HR = 0.05
BALANCE_HOURS = 24.0


@dataclass(frozen=True)
class CreditRun:
    baseline_share: float  # per vCPU
    throttled_share: float  # share of intervals throttled to the baseline (standard mode)
    surplus_vcpu_hours: float  # vCPU-hours above the earned credits (what unlimited mode bills)
    hours: float
    min_balance_share: float  # lowest balance as a share of the maximum

    @property
    def surplus_usd_per_hour(self) -> float:
        return SURPLUS_USD_PER_VCPU_HR * self.surplus_vcpu_hours / self.hours if self.hours > 0 else 0.0


def baseline(family: str, size: str) -> float | None:
    return BASELINE.get(family, {}).get(size)


def simulate(demand_vcpu: np.ndarray, step_s: float, vcpu: int, base: float) -> CreditRun:
    """Run the credit balance over a demand series (vCPU per interval, ``step_s`` apart)."""
    dt_min = step_s / 60.0
    earn = base * vcpu * dt_min
    cap = base * vcpu * 60.0 * BALANCE_HOURS
    balance = cap
    throttled = 0
    surplus = 0.0
    low = cap
    for d in np.minimum(demand_vcpu, vcpu):
        spend = float(d) * dt_min
        balance += earn - spend
        if balance < 0:
            surplus += -balance
            throttled += 1
            balance = 0.0
        balance = min(balance, cap)
        low = min(low, balance)
    n = int(demand_vcpu.size)
    return CreditRun(
        baseline_share=base,
        throttled_share=throttled / n if n else 0.0,
        surplus_vcpu_hours=surplus / 60.0,
        hours=n * step_s / 3600.0,
        min_balance_share=low / cap if cap > 0 else 0.0,
    )
