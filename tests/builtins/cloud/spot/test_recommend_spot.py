"""recommend_spot: price-capacity-optimised order, caps, diversification, fallback."""

from __future__ import annotations

import math

import pytest

from tests.builtins.cloud.conftest import call, error_field
from ucp.builtins.cloud.common.instances import BUCKET_LABELS, load_catalog
from ucp.builtins.cloud.spot import recommend_spot as spot

TOOL = spot.TOOL


def test_ranking_is_bucket_then_price_per_vcpu() -> None:
    out = call(TOOL, {"min_vcpu": 4, "max_vcpu": 16, "min_memory_gib": 8, "max_interruption_bucket": ">20%"})
    ranked = out["ranked"]
    keys = [(BUCKET_LABELS.index(p["interruption_bucket"]), p["est_spot_usd_per_vcpu_hr"]) for p in ranked]
    assert keys == sorted(keys)
    for p in ranked:
        assert 4 <= p["vcpu"] <= 16
        assert p["memory_gib"] >= 8
        assert p["est_spot_usd_hr"] == pytest.approx(
            p["on_demand_usd_hr"] * (1 - p["savings_pct"] / 100), rel=1e-5
        )


def test_cap_pools_and_diversification() -> None:
    out = call(TOOL, {"min_vcpu": 2, "max_vcpu": 8, "max_interruption_bucket": "<5%", "pools": 4})
    sel = out["selected"]
    assert len(sel) == 4
    assert all(p["interruption_bucket"] == "<5%" for p in sel)
    assert len({p["family"] for p in sel}) == 4
    assert not any(p["family"].startswith("t") and p["family"][1].isdigit() for p in sel)
    assert all(
        load_catalog()[p["instance_type"]].architecture == "x86_64" for p in sel
    )  # default architecture


def test_lowest_price_strategy_orders_by_price() -> None:
    out = call(
        TOOL, {"min_vcpu": 2, "max_vcpu": 2, "strategy": "lowest-price", "max_interruption_bucket": ">20%"}
    )
    prices = [p["est_spot_usd_per_vcpu_hr"] for p in out["ranked"]]
    assert prices == sorted(prices)


def test_capacity_split_and_fallback_is_cheapest_on_demand() -> None:
    out = call(TOOL, {"min_vcpu": 8, "max_vcpu": 8, "min_memory_gib": 32, "target_vcpus": 100, "pools": 3})
    per_pool = 100 / 3
    for p in out["selected"]:
        assert p["instances"] == math.ceil(per_pool / p["vcpu"])
    fb = out["on_demand_fallback"]
    brute = min(
        (it.od_usd_hr / it.vcpu, it.name)
        for it in load_catalog().values()
        if it.vcpu == 8
        and (it.memory_gib or 0) >= 32
        and it.od_usd_hr
        and it.interruption_bucket is not None
        and it.architecture == "x86_64"
        and not (it.family.startswith("t") and it.family[1].isdigit())
    )
    assert fb["instance_type"] == brute[1]
    assert fb["instances"] == math.ceil(100 / 8)


def test_states_snapshot_age_and_no_history() -> None:
    out = call(TOOL, {})
    assert out["snapshot_age_days"] == 526  # 2025-06-15 -> 2026-11-23
    assert out["price_history_available"] is False
    assert any("price history" in w for w in out["warnings"])


def test_other_regions_refuse_to_rank_by_savings_without_prices() -> None:
    assert error_field(TOOL, {"region": "eu-west-1", "min_vcpu": 4, "max_vcpu": 4}) == "strategy"
    assert error_field(TOOL, {"region": "eu-west-1", "strategy": "lowest-price"}) == "strategy"
    out = call(TOOL, {"region": "eu-west-1", "min_vcpu": 4, "max_vcpu": 4, "strategy": "capacity-optimized"})
    assert out["selected"]
    assert all(p["est_spot_usd_hr"] is None for p in out["selected"])
    assert out["on_demand_fallback"] is None
    assert any("not used to rank" in w for w in out["warnings"])
    # the order is by interruption bucket, never by savings: equal buckets go by size then name
    ranked = out["ranked"]
    buckets = ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
    assert [buckets.index(p["interruption_bucket"]) for p in ranked] == sorted(
        buckets.index(p["interruption_bucket"]) for p in ranked
    )


GPU_OR_STORAGE = ("p", "g", "inf", "trn", "dl", "i", "d", "h", "im", "is", "x", "u", "z")


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_general_workloads_get_general_types_diversified_across_generations(region: str) -> None:
    from ucp.builtins.cloud.spot.recommend_spot import family_prefix, generation

    out = call(TOOL, {"region": region, "min_vcpu": 2, "pools": 6, "strategy": "capacity-optimized"})
    fams = [p["family"] for p in out["ranked"]]
    assert fams and not any(family_prefix(f) in GPU_OR_STORAGE for f in fams)
    assert not any("metal" in p["instance_type"] for p in out["ranked"])
    assert all(p["vcpu"] <= 16 and p["memory_gib"] <= 128 for p in out["ranked"])
    gens = {generation(p["family"]) for p in out["selected"]}
    assert len(gens) >= min(3, len({generation(f) for f in fams}))
    gpu = call(TOOL, {"region": "us-east-1", "workload_class": "gpu", "min_vcpu": 4})
    assert gpu["selected"] and all(
        family_prefix(p["family"]) in ("p", "g", "inf", "trn", "dl", "vt", "f", "gr") for p in gpu["selected"]
    )


def test_bad_inputs() -> None:
    assert error_field(TOOL, {"region": "mars-east-1"}) == "region"
    assert error_field(TOOL, {"min_vcpu": 8, "max_vcpu": 4}) == "max_vcpu"
    assert error_field(TOOL, {"families": ["m5", "qq7"]}) == "families[1]"
    assert error_field(TOOL, {"max_interruption_bucket": "30%"}) == "max_interruption_bucket"
