"""Pure core of VM rightsizing: profiles, required capacity, type choice, saturation.

Profiles follow the systems they are named after:

* ``aws-default`` – AWS Compute Optimizer: CPU at p99.5 plus 20% headroom, memory too.
* ``vpa-like`` – the Kubernetes VPA: p90 plus a 15% margin; memory from daily peaks.
* ``azure-user-facing`` – Azure Advisor: new size keeps p95 CPU < 40%, peak memory < 60%.
* ``azure-batch`` – Azure Advisor: p95 CPU < 80%, peak memory < 80%.
* ``custom`` – the caller's percentile and headroom.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ucp.builtins.cloud.common.instances import InstanceType, load_catalog


@dataclass(frozen=True)
class Profile:
    name: str
    cpu_percentile: float
    cpu_headroom: float  # fraction: 0.2 = +20%
    memory_percentile: float
    memory_headroom: float
    memory_daily_peaks: bool = False  # percentile over per-24h peaks (VPA) instead of samples
    reference: str = ""


PROFILES: dict[str, Profile] = {
    "aws-default": Profile("aws-default", 99.5, 0.20, 99.5, 0.20, reference="AWS Compute Optimizer defaults"),
    "vpa-like": Profile("vpa-like", 90.0, 0.15, 90.0, 0.15, True, "Kubernetes VPA recommender"),
    "azure-user-facing": Profile(
        "azure-user-facing", 95.0, 1 / 0.40 - 1, 100.0, 1 / 0.60 - 1, reference="Azure Advisor (user-facing)"
    ),
    "azure-batch": Profile(
        "azure-batch", 95.0, 1 / 0.80 - 1, 100.0, 1 / 0.80 - 1, reference="Azure Advisor (batch)"
    ),
}


def percentile(x: np.ndarray, p: float) -> float:
    """Percentile with linear interpolation (numpy's default)."""
    return float(np.percentile(x, p))


def daily_peaks(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Maximum of each 24-hour window, windows aligned to the first sample."""
    idx = np.floor((t - t[0]) / 86400.0).astype(np.int64)
    out = np.full(int(idx[-1]) + 1, -np.inf)
    np.maximum.at(out, idx, v)
    peaks: np.ndarray = out[np.isfinite(out)]
    return peaks


def required_capacity(
    profile: Profile, cpu_demand: np.ndarray, mem: tuple[np.ndarray, np.ndarray] | None
) -> tuple[float, float | None]:
    """(vCPU, GiB) the profile asks for; ``mem`` is (times, GiB demand), or ``None`` when
    there is no memory data (then memory is ``None``)."""
    cpu = percentile(cpu_demand, profile.cpu_percentile) * (1 + profile.cpu_headroom)
    if mem is None:
        return cpu, None
    mem_t, mem_demand = mem
    base = daily_peaks(mem_t, mem_demand) if profile.memory_daily_peaks else mem_demand
    return cpu, percentile(base, profile.memory_percentile) * (1 + profile.memory_headroom)


def candidates(
    current: InstanceType, families: Iterable[str] | None, allow_arch_change: bool
) -> list[InstanceType]:
    """Types with known specs and price in the allowed families (default: the current one)."""
    fams = {f.lower() for f in families} if families else {current.family}
    out = [
        it
        for it in load_catalog().values()
        if it.family in fams
        and it.has_specs
        and it.od_usd_hr is not None
        and (allow_arch_change or it.architecture == current.architecture)
    ]
    return sorted(out, key=lambda it: (it.od_usd_hr or 0.0, -(it.vcpu or 0), it.name))


def choose(pool: list[InstanceType], vcpu: float, mem_gib: float) -> list[InstanceType]:
    """Types in ``pool`` (sorted by price) that meet both requirements, cheapest first."""
    eps = 1e-9
    return [it for it in pool if (it.vcpu or 0) + eps >= vcpu and (it.memory_gib or 0.0) + eps >= mem_gib]


def saturated_share(demand: np.ndarray, capacity: float) -> float:
    """Share of intervals whose demand exceeds the capacity."""
    return float(np.mean(demand > capacity + 1e-12)) if demand.size else 0.0


def five_minute_max(t: np.ndarray, v: np.ndarray, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Compute Optimizer uses the maximum within each 5-minute slot; coarser data is kept as is."""
    if step_s >= 300:
        return t, v
    idx = np.floor((t - t[0]) / 300.0).astype(np.int64)
    out = np.full(int(idx[-1]) + 1, -np.inf)
    np.maximum.at(out, idx, v)
    keep = np.isfinite(out)
    grid = t[0] + 300.0 * np.arange(out.size, dtype=np.float64)
    return grid[keep], out[keep]
