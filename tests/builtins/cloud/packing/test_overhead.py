"""Per-node reservations: the GKE/EKS kube-reserved tiers, hand-computed."""

from __future__ import annotations

import pytest

from ucp.builtins.cloud.packing import overhead


@pytest.mark.parametrize(
    ("vcpu", "cpu"), [(1, 0.06), (2, 0.07), (4, 0.08), (8, 0.09), (96, 0.08 + 92 * 0.0025)]
)
def test_cpu_tiers(vcpu: float, cpu: float) -> None:
    assert overhead.kubelet_reserved_cpu(vcpu) == pytest.approx(cpu)


@pytest.mark.parametrize(
    ("gib", "mem"),
    [(2, 0.5), (8, 1.8), (16, 2.6), (128, 2.6 + 112 * 0.06), (256, 2.6 + 112 * 0.06 + 128 * 0.02)],
)
def test_memory_tiers_plus_eviction(gib: float, mem: float) -> None:
    assert overhead.kubelet_reserved_memory_gib(gib) == pytest.approx(mem + 100 / 1024)
