"""``lookup_instance_prices``: filter the shipped EC2 catalog, with each price's snapshot."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.common.envelope import Envelope, Method, OutputModel, StrictInput, require, rnd
from ucp.builtins.cloud.common.instances import (
    DERIVED_SPECS_SOURCE,
    ON_DEMAND_AS_OF,
    InstanceType,
    catalog_sources,
    get_type,
    load_catalog,
    staleness_warnings,
)

SortKey = Literal["on_demand", "spot", "on_demand_per_vcpu", "spot_per_vcpu", "name"]
SPOT_AS_OF = "~2025-06"


class PricesInput(StrictInput):
    instance_types: list[str] | None = Field(default=None, description="Exact types to look up.")
    families: list[str] | None = Field(default=None, description="e.g. ['m5','c6g'].")
    min_vcpu: int | None = Field(default=None, ge=0)
    max_vcpu: int | None = Field(default=None, ge=0)
    min_memory_gib: float | None = Field(default=None, ge=0)
    max_memory_gib: float | None = Field(default=None, ge=0)
    architecture: Literal["x86_64", "arm64"] | None = None
    max_on_demand_usd_hr: float | None = Field(default=None, ge=0)
    max_spot_usd_hr: float | None = Field(default=None, ge=0, description="Estimated spot price cap.")
    sort_by: SortKey = "on_demand"
    limit: int = Field(default=25, ge=1, le=500)


class PriceRow(OutputModel):
    instance_type: str
    family: str
    architecture: str
    vcpu: int | None = Field(description="null: not in the snapshot.")
    memory_gib: float | None
    on_demand_usd_hr: float | None
    on_demand_as_of: str
    est_spot_usd_hr: float | None = Field(
        description="on-demand x (1 - advisor savings); null: no advisor data."
    )
    spot_savings_pct: int | None
    interruption_bucket: str | None
    spot_as_of: str | None


class PricesOutput(Envelope):
    region: str = "us-east-1"
    matched: int
    returned: int
    skipped_without_specs: int = Field(
        description="Types skipped because a vCPU/memory filter was set and the snapshot lacks their specs."
    )
    instances: list[PriceRow]


def _row(it: InstanceType) -> PriceRow:
    return PriceRow(
        instance_type=it.name,
        family=it.family,
        architecture=it.architecture,
        vcpu=it.vcpu,
        memory_gib=it.memory_gib,
        on_demand_usd_hr=it.od_usd_hr,
        on_demand_as_of=ON_DEMAND_AS_OF.isoformat(),
        est_spot_usd_hr=None if it.est_spot_usd_hr is None else rnd(it.est_spot_usd_hr),
        spot_savings_pct=it.spot_savings_pct,
        interruption_bucket=it.bucket_label,
        spot_as_of=SPOT_AS_OF if it.interruption_bucket is not None else None,
    )


def _sort_key(key: SortKey, it: InstanceType) -> tuple[int, float, str]:
    big = float("inf")
    if key == "name":
        return (0, 0.0, it.name)
    price = it.od_usd_hr if key.startswith("on_demand") else it.est_spot_usd_hr
    if price is not None and key.endswith("per_vcpu"):
        price = price / it.vcpu if it.vcpu else None
    return (0, price, it.name) if price is not None else (1, big, it.name)


def _check_ranges(args: PricesInput) -> None:
    for lo, hi, name in (
        (args.min_vcpu, args.max_vcpu, "max_vcpu"),
        (args.min_memory_gib, args.max_memory_gib, "max_memory_gib"),
    ):
        if lo is not None and hi is not None:
            require(hi >= lo, name, f"{hi} is below the minimum {lo}")


def lookup_instance_prices(args: PricesInput) -> PricesOutput:
    _check_ranges(args)
    cat = load_catalog()
    if args.instance_types is not None:
        pool = [get_type(n, f"instance_types[{i}]") for i, n in enumerate(args.instance_types)]
    else:
        pool = list(cat.values())
    families = {f.lower() for f in args.families} if args.families else None
    if families:
        known = {it.family for it in cat.values()}
        for i, f in enumerate(args.families or []):
            if f.lower() not in known:
                raise ToolInputError(f"families[{i}]", f"unknown family {f!r}")
    spec_filter = any(
        x is not None for x in (args.min_vcpu, args.max_vcpu, args.min_memory_gib, args.max_memory_gib)
    )
    skipped = 0
    hits: list[InstanceType] = []
    for it in pool:
        if families and it.family not in families:
            continue
        if args.architecture and it.architecture != args.architecture:
            continue
        if spec_filter and not it.has_specs:
            skipped += 1
            continue
        if not _within(it, args):
            continue
        hits.append(it)
    hits.sort(key=lambda it: _sort_key(args.sort_by, it))
    rows = [_row(it) for it in hits[: args.limit]]
    warnings = staleness_warnings()
    if skipped:
        warnings.append(f"{skipped} type(s) were skipped: the snapshot has no vCPU/memory for them.")
    return PricesOutput(
        method=Method(
            name="catalog filter",
            reference="AWS price list (via Karpenter's pricing table) + Spot Instance Advisor",
            parameters=args.model_dump(exclude_none=True),
        ),
        data_sources=[
            *catalog_sources(),
            *([DERIVED_SPECS_SOURCE] if any(it.specs_derived for it in hits[: args.limit]) else []),
        ],
        assumptions=[
            "Prices are Linux on-demand USD per hour in us-east-1.",
            "Estimated spot price = on-demand x (1 - advisor savings %); the advisor's savings are monthly averages, "
            "and no spot price history is available offline.",
            "Architecture is inferred from the family name (Graviton families have a 'g' after the generation number).",
        ],
        warnings=warnings,
        matched=len(hits),
        returned=len(rows),
        skipped_without_specs=skipped,
        instances=rows,
    )


def _within(it: InstanceType, a: PricesInput) -> bool:
    checks: list[tuple[float | None, float | None, bool]] = [
        (a.min_vcpu, it.vcpu, True),
        (a.max_vcpu, it.vcpu, False),
        (a.min_memory_gib, it.memory_gib, True),
        (a.max_memory_gib, it.memory_gib, False),
        (a.max_on_demand_usd_hr, it.od_usd_hr, False),
        (a.max_spot_usd_hr, it.est_spot_usd_hr, False),
    ]
    for bound, value, is_min in checks:
        if bound is None:
            continue
        if value is None:
            return False
        if (is_min and value < bound) or (not is_min and value > bound):
            return False
    return True


TOOL = BuiltinTool(
    name="lookup_instance_prices",
    title="Look up EC2 instance prices",
    description=(
        "Filter the shipped EC2 catalog (us-east-1) by vCPU, memory, family, architecture and price; "
        "returns on-demand and estimated spot USD/hour with the snapshot and date of each price "
        "(AWS price list via Karpenter; AWS Spot Instance Advisor)."
    ),
    input_model=PricesInput,
    output_model=PricesOutput,
    handler=lookup_instance_prices,
    tags=("cloud", "aws", "ec2", "pricing", "finops"),
)
