"""lookup_instance_prices: filters hold for every row; each price names its snapshot."""

from __future__ import annotations

import gzip
import json
from importlib import resources

import pytest

from tests.builtins.cloud.conftest import call, error_field
from ucp.builtins.cloud.common.instances import get_type, load_catalog
from ucp.builtins.cloud.pricing import lookup_instance_prices as prices

TOOL = prices.TOOL


def test_filters_hold_for_every_row() -> None:
    args = {
        "min_vcpu": 4,
        "max_vcpu": 16,
        "min_memory_gib": 16,
        "architecture": "arm64",
        "max_on_demand_usd_hr": 1.0,
        "limit": 500,
    }
    out = call(TOOL, args)
    assert out["returned"] > 5
    for row in out["instances"]:
        assert 4 <= row["vcpu"] <= 16
        assert row["memory_gib"] >= 16
        assert row["architecture"] == "arm64"
        assert row["on_demand_usd_hr"] <= 1.0
        assert row["on_demand_as_of"] == "2026-07-20"
    od = [r["on_demand_usd_hr"] for r in out["instances"]]
    assert od == sorted(od)


def test_sort_by_spot_per_vcpu_puts_unknowns_last() -> None:
    out = call(TOOL, {"families": ["m5", "c8a"], "sort_by": "spot_per_vcpu", "limit": 500})
    keys = [
        r["est_spot_usd_hr"] / r["vcpu"] if r["est_spot_usd_hr"] is not None and r["vcpu"] else None
        for r in out["instances"]
    ]
    known = [k for k in keys if k is not None]
    assert known == sorted(known)
    first_unknown = keys.index(None)
    assert all(k is None for k in keys[first_unknown:])


def test_spot_estimate_agrees_with_raw_advisor_file() -> None:
    raw = json.loads(
        gzip.decompress(
            resources.files("ucp.builtins.cloud").joinpath("data", "spot-advisor-data.json.gz").read_bytes()
        )
    )
    adv = raw["spot_advisor"]["us-east-1"]["Linux"]
    for name in ("m5.2xlarge", "c6i.large", "r6g.xlarge"):
        it = get_type(name, "x")
        assert it.od_usd_hr is not None
        assert it.spot_savings_pct == adv[name]["s"]
        assert it.est_spot_usd_hr == pytest.approx(it.od_usd_hr * (1 - adv[name]["s"] / 100), rel=1e-6)
        assert it.interruption_bucket == adv[name]["r"]


def test_types_missing_from_advisor_are_unknown_not_zero() -> None:
    missing = [it for it in load_catalog().values() if it.interruption_bucket is None]
    assert missing
    assert all(it.spot_savings_pct is None and it.est_spot_usd_hr is None for it in missing)
    out = call(TOOL, {"instance_types": [missing[0].name]})
    row = out["instances"][0]
    assert row["est_spot_usd_hr"] is None
    assert row["spot_as_of"] is None


def test_types_without_specs_are_counted_when_spec_filters_apply() -> None:
    out = call(TOOL, {"families": ["g7"], "min_vcpu": 1})
    assert out["returned"] == 0
    assert out["skipped_without_specs"] > 0
    assert any("skipped" in w for w in out["warnings"])


@pytest.mark.parametrize(
    ("name", "arch"),
    [
        ("a1.large", "arm64"),
        ("c6g.large", "arm64"),
        ("g5g.xlarge", "arm64"),
        ("m5.large", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("im4gn.large", "arm64"),
    ],
)
def test_architecture_inference(name: str, arch: str) -> None:
    assert get_type(name, "x").architecture == arch


def test_staleness_is_stated() -> None:
    out = call(TOOL, {"instance_types": ["m5.large"]})
    assert any("126 days old" in w for w in out["warnings"])  # 2026-07-20 -> 2026-11-23
    assert {s["licence"] for s in out["data_sources"]} == {"Apache-2.0"}


def test_bad_inputs_name_fields() -> None:
    assert error_field(TOOL, {"instance_types": ["m5.large", "m5.hugeee"]}) == "instance_types[1]"
    assert error_field(TOOL, {"families": ["zz9"]}) == "families[0]"
    assert error_field(TOOL, {"min_vcpu": 8, "max_vcpu": 4}) == "max_vcpu"
    assert error_field(TOOL, {"min_vcpu": -1}) == "min_vcpu"


def test_current_generation_cmr_specs_are_derived_and_sourced() -> None:
    out = call(TOOL, {"families": ["c8a"], "min_vcpu": 1})
    assert out["returned"] > 0  # only the metal sizes stay without specs
    large = next(r for r in out["instances"] if r["instance_type"] == "c8a.large")
    assert large["vcpu"] == 2 and large["memory_gib"] == 4
    assert any(
        "naming convention" in d["name"] and d["licence"].startswith("CC BY-SA") for d in out["data_sources"]
    )
