"""The shipped EC2 catalog (on-demand prices + spot advisor) and its provenance.

Two snapshots about a year apart are joined in ``data/catalog_us_east_1.csv``; every
tool that uses them names both and their ages. A type missing from the spot advisor has
no spot or spec data here: that is reported as unknown, never as zero.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import json
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

from ucp.builtins.base import ToolInputError
from ucp.builtins.cloud.common import envelope
from ucp.builtins.cloud.common.envelope import DataSource

BUCKET_LABELS = ("<5%", "5-10%", "10-15%", "15-20%", ">20%")
ON_DEMAND_AS_OF = date(2026, 7, 20)
SPOT_ADVISOR_AS_OF = date(2025, 6, 15)  # the file has no date; mid-2025 per its source
STALE_AFTER_DAYS = 90

ON_DEMAND_SOURCE = DataSource(
    name="AWS on-demand Linux prices, us-east-1 (Karpenter's generated pricing table)",
    as_of=ON_DEMAND_AS_OF.isoformat(),
    licence="Apache-2.0",
    url="https://github.com/aws/karpenter-provider-aws/blob/main/pkg/providers/pricing/zz_generated.pricing_aws.go",
)
SPOT_ADVISOR_SOURCE = DataSource(
    name="AWS Spot Instance Advisor snapshot (savings %, interruption buckets)",
    as_of="~2025-06 (approximate; the snapshot carries no date)",
    licence="Apache-2.0",
    url="https://github.com/alexei-led/spotinfo",
)

_ARM_FAMILY = re.compile(r"^[a-z]+\d+g")
_CMR_FAMILY = re.compile(r"^([cmr])(\d+)[a-z-]*$")
GIB_PER_VCPU = {"c": 2.0, "m": 4.0, "r": 8.0}
DERIVED_SPECS_SOURCE = DataSource(
    name=(
        "vCPU/memory derived from the EC2 naming convention for c/m/r families of generation 6+ that the "
        "advisor snapshot lacks (medium 1 vCPU, large 2, xlarge 4, Nxlarge 4N; c 2, m 4, r 8 GiB per vCPU); "
        "the rule matches 535 of the 541 c/m/r types (generation 5+) the snapshot does list (all but c5n)"
    ),
    as_of="AWS EC2 Instance Types guide, size tables of the general-purpose, compute- and memory-optimised "
    "families (2025-2026)",
    licence="CC BY-SA 4.0 (AWS documentation); the derived figures are facts, not copied text",
    url="https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html",
)


def _size_vcpu(size: str) -> int | None:
    if size in ("medium", "large", "xlarge"):
        return {"medium": 1, "large": 2, "xlarge": 4}[size]
    m = re.fullmatch(r"(\d+)xlarge", size)
    return 4 * int(m.group(1)) if m else None


def derived_specs(name: str, family: str) -> tuple[int, float] | None:
    """(vCPU, GiB) of a c/m/r type of generation 6+ from its name, or None (metal, other families)."""
    m = _CMR_FAMILY.match(family)
    if m is None or int(m.group(2)) < 6 or "." not in name:
        return None
    vcpu = _size_vcpu(name.split(".", 1)[1])
    return None if vcpu is None else (vcpu, GIB_PER_VCPU[m.group(1)] * vcpu)


@dataclass(frozen=True)
class InstanceType:
    name: str
    family: str
    vcpu: int | None
    memory_gib: float | None
    od_usd_hr: float | None
    spot_savings_pct: int | None
    interruption_bucket: int | None
    est_spot_usd_hr: float | None
    specs_derived: bool = False  # vCPU/memory from ``derived_specs``, not from the advisor snapshot

    @property
    def generation(self) -> str | None:
        """The generation and processor suffix shared by c/m/r siblings: m6i -> '6i', c7g -> '7g'."""
        m = re.match(r"^[cmr](\d+[a-z]*?)(?:-flex)?$", self.family)
        return m.group(1) if m else None

    @property
    def burstable(self) -> bool:
        return self.family in ("t2", "t3", "t3a", "t4g")

    @property
    def architecture(self) -> str:
        """Inferred from the family name: Graviton families carry a 'g' after the generation."""
        return "arm64" if self.family == "a1" or _ARM_FAMILY.match(self.family) else "x86_64"

    @property
    def size(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name else ""

    @property
    def has_specs(self) -> bool:
        return self.vcpu is not None and self.memory_gib is not None

    @property
    def bucket_label(self) -> str | None:
        return None if self.interruption_bucket is None else BUCKET_LABELS[self.interruption_bucket]


def _data_text(name: str) -> bytes:
    return resources.files("ucp.builtins.cloud").joinpath("data", name).read_bytes()


def _opt_float(s: str) -> float | None:
    return float(s) if s.strip() else None


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, InstanceType]:
    text = _data_text("catalog_us_east_1.csv").decode("utf-8")
    out: dict[str, InstanceType] = {}
    for row in csv.DictReader(text.splitlines()):
        in_advisor = bool(row["interruption_bucket"].strip())
        vcpu = _opt_float(row["vcpu"])
        mem = _opt_float(row["memory_gib"])
        derived = derived_specs(row["instance_type"], row["family"]) if vcpu is None or mem is None else None
        if derived is not None:
            vcpu, mem = float(derived[0]), derived[1]
        out[row["instance_type"]] = InstanceType(
            name=row["instance_type"],
            family=row["family"],
            vcpu=None if vcpu is None else int(vcpu),
            memory_gib=mem,
            specs_derived=derived is not None,
            od_usd_hr=_opt_float(row["od_usd_hr"]),
            spot_savings_pct=int(float(row["spot_savings_pct"])) if in_advisor else None,
            interruption_bucket=BUCKET_LABELS.index(row["interruption_bucket"]) if in_advisor else None,
            est_spot_usd_hr=_opt_float(row["est_spot_usd_hr"]) if in_advisor else None,
        )
    return out


@lru_cache(maxsize=1)
def load_spot_advisor() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(_data_text("spot-advisor-data.json.gz")))
    return data


def get_type(name: str, fld: str) -> InstanceType:
    """Look up a type or raise ``ToolInputError`` with the closest known names."""
    cat = load_catalog()
    key = name.strip().lower()
    if key in cat:
        return cat[key]
    close = difflib.get_close_matches(key, list(cat), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ToolInputError(fld, f"unknown instance type {name!r} (not in the shipped us-east-1 catalog){hint}")


def require_specs(it: InstanceType, fld: str) -> tuple[int, float]:
    """vCPU and memory of a type, or an error saying the snapshot lacks them."""
    if it.vcpu is None or it.memory_gib is None:
        raise ToolInputError(fld, f"{it.name}: vCPU/memory not in the shipped spot-advisor snapshot")
    return it.vcpu, it.memory_gib


def staleness_warnings(use_spot: bool = True) -> list[str]:
    """One warning per snapshot older than ``STALE_AFTER_DAYS``."""
    now = envelope.today()
    out: list[str] = []
    od_age = (now - ON_DEMAND_AS_OF).days
    if od_age > STALE_AFTER_DAYS:
        out.append(
            f"On-demand prices are from {ON_DEMAND_AS_OF.isoformat()} ({od_age} days old); "
            "check current prices before committing."
        )
    sp_age = (now - SPOT_ADVISOR_AS_OF).days
    if use_spot and sp_age > STALE_AFTER_DAYS:
        out.append(
            f"The spot advisor snapshot is from about mid-2025 (~{sp_age} days old); savings and "
            "interruption rates move, and spot prices are estimated as on-demand x (1 - savings%)."
        )
    return out


def catalog_sources(use_spot: bool = True) -> list[DataSource]:
    return [ON_DEMAND_SOURCE, SPOT_ADVISOR_SOURCE] if use_spot else [ON_DEMAND_SOURCE]
