"""Per-node overhead that pods can never use: kubelet/system reservations and DaemonSets.

Allocatable = capacity - kube-reserved - system-reserved - eviction threshold. The defaults
follow the formula GKE documents and the EKS AMI's bootstrap applies (CPU: 6% of the first
core, 1% of the second, 0.5% of the third and fourth, 0.25% of every core above four;
memory: 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112 and
2% above 128 GiB, plus a 100 MiB hard-eviction threshold). DaemonSets (kube-proxy, the CNI
agent, a log shipper...) run on every node on top of that; ``DAEMONSET_*`` are modest
defaults a caller should replace with their cluster's own requests. Without this, a packing
plan treats a node's full capacity as usable and one-pod-per-node plans look optimal.
"""

from __future__ import annotations

CPU_TIERS = ((1.0, 0.06), (1.0, 0.01), (2.0, 0.005), (float("inf"), 0.0025))  # (cores in tier, share)
MEM_TIERS = ((4.0, 0.25), (4.0, 0.20), (8.0, 0.10), (112.0, 0.06), (float("inf"), 0.02))  # (GiB, share)
EVICTION_GIB = 100 / 1024
DAEMONSET_CPU_CORES = 0.1
DAEMONSET_MEMORY_GIB = 0.25


def _tiered(amount: float, tiers: tuple[tuple[float, float], ...]) -> float:
    out, left = 0.0, amount
    for size, share in tiers:
        take = min(left, size)
        out += take * share
        left -= take
        if left <= 0:
            break
    return out


def kubelet_reserved_cpu(vcpu: float) -> float:
    return _tiered(vcpu, CPU_TIERS)


def kubelet_reserved_memory_gib(memory_gib: float) -> float:
    return _tiered(memory_gib, MEM_TIERS) + EVICTION_GIB
