"""allocate_costs: OpenCost arithmetic by hand; allocations + idle = total, always."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builtins.cloud.conftest import call, error_field
from ucp.builtins.cloud.allocation import allocate_costs as allocate

TOOL = allocate.TOOL
NODE = {"name": "n1", "hourly_cost_usd": 1.0, "cpu_cores": 4, "memory_gib": 16}
# OpenCost default ratios: CPU 0.031611/core-h, RAM 0.004237/GiB-h
CPU_SHARE = 4 * 0.031611 / (4 * 0.031611 + 16 * 0.004237)
CPU_RATE = 1.0 * CPU_SHARE / 4
RAM_RATE = 1.0 * (1 - CPU_SHARE) / 16


def test_hand_computed_allocation() -> None:
    out = call(
        TOOL,
        {
            "window_hours": 10,
            "nodes": [NODE],
            "workloads": [
                {
                    "name": "api",
                    "node": "n1",
                    "cpu_request": 2,
                    "cpu_usage": 1,
                    "memory_request_gib": 2,
                    "memory_usage_gib": 4,
                },
            ],
        },
    )
    a = out["allocations"][0]
    assert a["cpu_cost"] == pytest.approx(2 * 10 * CPU_RATE, abs=1e-6)  # request beats usage
    assert a["ram_cost"] == pytest.approx(4 * 10 * RAM_RATE, abs=1e-6)  # usage beats request
    assert out["total_cost"] == pytest.approx(10.0)
    assert out["idle"]["total_cost"] == pytest.approx(10 - a["total_cost"], abs=1e-6)
    assert out["idle"]["cpu_cost"] == pytest.approx(2 * 10 * CPU_RATE, abs=1e-6)
    assert a["cpu_efficiency"] == pytest.approx(0.5)


def _two_teams(**extra: Any) -> dict[str, Any]:
    return {
        "nodes": [NODE],
        "aggregate_by": "team",
        "shared_costs": [{"name": "lb", "cost_usd": 3.0}],
        "workloads": [
            {"name": "a1", "node": "n1", "labels": {"team": "a"}, "cpu_request": 1, "memory_request_gib": 1},
            {"name": "b1", "node": "n1", "labels": {"team": "b"}, "cpu_request": 2, "memory_request_gib": 2},
            {"name": "dns", "node": "n1", "shared": True, "cpu_request": 0.5},
            {"name": "x", "node": "n1", "cpu_request": 0.1},
        ],
        **extra,
    }


def _shared(out: dict[str, Any]) -> dict[str, float]:
    return {a["name"]: a["shared_cost"] for a in out["allocations"]}


def test_shared_split_modes() -> None:
    pool = 3.0 + 0.5 * 24 * CPU_RATE
    even = _shared(call(TOOL, _two_teams()))
    assert even == pytest.approx({"a": pool / 3, "b": pool / 3, "__unallocated__": pool / 3}, abs=1e-6)
    w = _shared(
        call(TOOL, _two_teams(shared_split="weighted", weights={"a": 1, "b": 3, "__unallocated__": 0}))
    )
    assert w == pytest.approx({"a": pool / 4, "b": 3 * pool / 4, "__unallocated__": 0}, abs=1e-6)
    by = call(TOOL, _two_teams(shared_split="by_usage"))
    own = {a["name"]: a["cpu_cost"] + a["ram_cost"] for a in by["allocations"]}
    for k, v in _shared(by).items():
        assert v == pytest.approx(pool * own[k] / sum(own.values()), abs=1e-5)


def test_idle_can_be_shared() -> None:
    out = call(TOOL, _two_teams(idle="share"))
    assert out["idle"]["total_cost"] == pytest.approx(0, abs=1e-6)
    assert sum(a["total_cost"] for a in out["allocations"]) == pytest.approx(out["total_cost"])


def test_catalog_node_and_staleness() -> None:
    out = call(TOOL, {"nodes": [{"name": "n", "instance_type": "m5.xlarge"}], "workloads": []})
    assert out["total_cost"] == pytest.approx(0.192 * 24)
    assert any("days old" in w for w in out["warnings"])


def test_bad_inputs() -> None:
    wl = {"name": "w", "node": "n1", "cpu_request": 1}
    assert error_field(TOOL, {"nodes": [NODE], "workloads": [{**wl, "node": "zz"}]}) == "workloads[0].node"
    assert (
        error_field(TOOL, {"nodes": [NODE], "workloads": [wl, {**wl, "cpu_request": 3.5}]}) == "workloads[1]"
    )
    assert (
        error_field(TOOL, {"nodes": [NODE], "workloads": [{**wl, "cpu_request": -1}]})
        == "workloads[0].cpu_request"
    )
    assert error_field(TOOL, {"nodes": [NODE, NODE]}) == "nodes[1].name"
    assert error_field(TOOL, {"nodes": [{"name": "n"}]}) == "nodes[0].cpu_cores"
    assert (
        error_field(TOOL, {"nodes": [{"name": "n", "instance_type": "m5.bogus"}]}) == "nodes[0].instance_type"
    )
    assert error_field(TOOL, _two_teams(shared_split="weighted", weights={"a": 1})) == "weights"
    assert error_field(TOOL, {"nodes": [{**NODE, "hours": 30}]}) == "nodes[0].hours"


node_st = st.fixed_dictionaries(
    {
        "hourly_cost_usd": st.floats(0, 50),
        "cpu_cores": st.floats(0.5, 96),
        "memory_gib": st.floats(0.5, 768),
        "gpus": st.integers(0, 4),
        "hours": st.none() | st.floats(0.1, 24),
    }
)
work_st = st.fixed_dictionaries(
    {
        "node": st.integers(0, 4),
        "cpu": st.floats(0, 1),
        "cpu_use": st.floats(0, 1),
        "mem": st.floats(0, 1),
        "mem_use": st.floats(0, 1),
        "team": st.sampled_from(["a", "b", "c", None]),
        "shared": st.booleans(),
        "hours": st.floats(0, 1),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(node_st, min_size=1, max_size=5),
    st.lists(work_st, max_size=25),
    st.lists(st.floats(0, 100), max_size=3),
    st.sampled_from(["even", "by_usage"]),
    st.sampled_from(["separate", "share"]),
    st.sampled_from(["workload", "team", "node"]),
)
def test_allocations_plus_idle_equal_total(
    nodes: list[dict[str, Any]],
    works: list[dict[str, Any]],
    shared: list[float],
    split: str,
    idle: str,
    agg: str,
) -> None:
    ns = [{"name": f"n{i}", **n} for i, n in enumerate(nodes)]
    ws = []
    load: dict[int, list[float]] = {}
    for j, w in enumerate(works):
        i = w["node"] % len(ns)
        n = ns[i]
        # at most a fifth of each node per workload, so no more than 5 on a node can overflow it
        if len(load.setdefault(i, [])) >= 5:
            continue
        load[i].append(1)
        ws.append(
            {
                "name": f"w{j}",
                "node": n["name"],
                "labels": {"team": w["team"]} if w["team"] else {},
                "cpu_request": w["cpu"] * n["cpu_cores"] / 5,
                "cpu_usage": w["cpu_use"] * n["cpu_cores"] / 5,
                "memory_request_gib": w["mem"] * n["memory_gib"] / 5,
                "memory_usage_gib": w["mem_use"] * n["memory_gib"] / 5,
                "hours": w["hours"] * (n["hours"] or 24),
                "shared": w["shared"],
            }
        )
    out = call(
        TOOL,
        {
            "nodes": ns,
            "workloads": ws,
            "shared_costs": [{"name": f"s{k}", "cost_usd": c} for k, c in enumerate(shared)],
            "shared_split": split,
            "idle": idle,
            "aggregate_by": agg,
        },
    )
    total = sum(n["hourly_cost_usd"] * (n["hours"] or 24) for n in nodes) + sum(shared)
    alloc = sum(a["total_cost"] for a in out["allocations"])
    assert out["total_cost"] == pytest.approx(total, rel=1e-6, abs=1e-5)
    assert alloc + out["idle"]["total_cost"] == pytest.approx(out["total_cost"], rel=1e-9, abs=1e-9)
    assert out["allocated_plus_idle"] == pytest.approx(out["total_cost"], rel=1e-9, abs=1e-9)
    assert out["idle"]["total_cost"] >= -1e-5  # nothing over-committed here
