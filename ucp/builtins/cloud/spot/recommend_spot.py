"""``recommend_spot``: price-capacity-optimised pool choice over the spot advisor snapshot."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.common import envelope
from ucp.builtins.cloud.common.envelope import (
    Envelope,
    Method,
    OutputModel,
    StrictInput,
    dedupe,
    require,
    rnd,
)
from ucp.builtins.cloud.common.instances import (
    BUCKET_LABELS,
    SPOT_ADVISOR_AS_OF,
    InstanceType,
    catalog_sources,
    load_catalog,
    load_spot_advisor,
    staleness_warnings,
)

Bucket = Literal["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
WorkloadClass = Literal["general", "compute", "memory", "gpu", "storage", "any"]
# the letters before the generation digit, per class: a general workload never lands on a GPU,
# storage-dense (local NVMe/HDD) or very-high-memory type unless the caller asks for that class
CLASS_PREFIXES: dict[str, tuple[str, ...]] = {
    "general": ("c", "m", "r", "t", "a"),
    "compute": ("c",),
    "memory": ("r", "x", "z", "u"),
    "gpu": ("p", "g", "inf", "trn", "dl", "vt", "f", "gr"),
    "storage": ("i", "d", "h", "im", "is"),
}
DEFAULT_MAX_VCPU_FACTOR = 4  # without max_vcpu, pools stay within 4x min_vcpu (at least 16)
Arch = Literal["x86_64", "arm64"]


def _x86() -> list[Arch]:
    return ["x86_64"]


class SpotInput(StrictInput):
    region: str = "us-east-1"
    os: Literal["Linux", "Windows"] = "Linux"
    min_vcpu: int = Field(default=1, ge=0)
    max_vcpu: int | None = Field(default=None, ge=1)
    min_memory_gib: float = Field(default=0, ge=0)
    max_memory_gib: float | None = Field(default=None, gt=0)
    architectures: list[Arch] = Field(default_factory=_x86, min_length=1)
    families: list[str] | None = None
    include_burstable: bool = Field(default=False, description="Allow t-family (CPU-credit) types.")
    workload_class: WorkloadClass = Field(
        default="general",
        description="general: c/m/r families; compute; memory (r/x/z/u); gpu; storage (i/d/h); any. "
        "GPU, storage-dense and metal types only when asked for.",
    )
    include_metal: bool = False
    max_interruption_bucket: Bucket = "10-15%"
    pools: int = Field(default=5, ge=1, le=30, description="Diversify across this many instance types.")
    strategy: Literal["price-capacity-optimized", "lowest-price", "capacity-optimized"] = (
        "price-capacity-optimized"
    )
    target_vcpus: int | None = Field(default=None, ge=1, description="Capacity to spread across the pools.")
    on_demand_fallback: bool = True


class Pool(OutputModel):
    instance_type: str
    family: str
    vcpu: int
    memory_gib: float
    interruption_bucket: str
    savings_pct: int
    on_demand_usd_hr: float | None
    est_spot_usd_hr: float | None
    est_spot_usd_per_vcpu_hr: float | None
    instances: int | None = None


class Fallback(OutputModel):
    instance_type: str
    on_demand_usd_hr: float
    instances: int | None


class SpotOutput(Envelope):
    region: str
    os: str
    selected: list[Pool]
    ranked: list[Pool] = Field(description="Top candidates in strategy order.")
    on_demand_fallback: Fallback | None
    est_blended_savings_pct: float | None
    snapshot_age_days: int
    price_history_available: bool = False


@dataclass(frozen=True)
class _Cand:
    name: str
    family: str
    vcpu: int
    mem: float
    bucket: int
    savings: int
    od: float | None

    @property
    def spot(self) -> float | None:
        return None if self.od is None else self.od * (1 - self.savings / 100)

    @property
    def per_vcpu(self) -> float:
        if self.spot is not None and self.vcpu:
            return self.spot / self.vcpu
        return 1.0 - self.savings / 100  # without prices: rank by savings only


def family_prefix(family: str) -> str:
    """The letters before the generation digit: m6i -> 'm', inf2 -> 'inf', im4gn -> 'im'."""
    out = ""
    for ch in family:
        if ch.isdigit():
            break
        out += ch
    return out


def generation(family: str) -> str:
    """The generation digits: m6i -> '6', c7gn -> '7'."""
    digits = ""
    for ch in family[len(family_prefix(family)) :]:
        if not ch.isdigit():
            break
        digits += ch
    return digits


def max_vcpu(args: SpotInput) -> int:
    return args.max_vcpu or max(DEFAULT_MAX_VCPU_FACTOR * args.min_vcpu, 16)


def _candidates(args: SpotInput, priced: bool) -> list[_Cand]:
    adv = load_spot_advisor()
    if args.region not in adv["spot_advisor"]:
        sample = ", ".join(sorted(adv["spot_advisor"])[:8])
        raise ToolInputError("region", f"not in the spot advisor snapshot (e.g. {sample})")
    table = adv["spot_advisor"][args.region].get(args.os)
    require(bool(table), "os", f"no {args.os} data for {args.region}")
    specs = adv["instance_types"]
    cat = load_catalog()
    fams = {f.lower() for f in args.families} if args.families else None
    known = {n.split(".")[0] for n in table}
    for i, f in enumerate(args.families or []):
        require(
            f.lower() in known, f"families[{i}]", f"no {f!r} types in the advisor for {args.region}/{args.os}"
        )
    out: list[_Cand] = []
    for name, rec in table.items():
        sp = specs.get(name)
        if sp is None:
            continue
        family = name.split(".")[0]
        vcpu, mem = int(sp["cores"]), float(sp["ram_gb"])
        arch = InstanceType(name, family, vcpu, mem, None, None, None, None).architecture
        if fams and family not in fams:
            continue
        if (
            not fams
            and args.workload_class != "any"
            and family_prefix(family) not in CLASS_PREFIXES[args.workload_class]
        ):
            continue
        if "metal" in name and not args.include_metal:
            continue
        if arch not in args.architectures:
            continue
        if not args.include_burstable and family.startswith("t") and family[1:2].isdigit():
            continue
        if vcpu < args.min_vcpu or vcpu > max_vcpu(args):
            continue
        if mem < args.min_memory_gib or (args.max_memory_gib is not None and mem > args.max_memory_gib):
            continue
        od = cat[name].od_usd_hr if priced and name in cat else None
        out.append(_Cand(name, family, vcpu, mem, int(rec["r"]), int(rec["s"]), od))
    return out


def _rank(c: list[_Cand], strategy: str) -> list[_Cand]:
    if strategy == "lowest-price":
        return sorted(c, key=lambda x: (x.per_vcpu, x.bucket, x.name))
    if strategy == "capacity-optimized":  # never by savings %: without prices the tie-break is the name
        return sorted(c, key=lambda x: (x.bucket, -x.vcpu, x.per_vcpu if x.spot is not None else 0.0, x.name))
    return sorted(c, key=lambda x: (x.bucket, x.per_vcpu, x.name))


def _diversify(ranked: list[_Cand], n: int) -> list[_Cand]:
    """In rank order: first one type per generation, then one per family, then fill by rank
    (a generation shares hardware and so capacity crunches; a family shares its pools)."""
    chosen: list[_Cand] = []
    gens: set[str] = set()
    for c in ranked:
        if len(chosen) < n and generation(c.family) not in gens:
            chosen.append(c)
            gens.add(generation(c.family))
    seen: set[str] = {c.family for c in chosen}
    for c in ranked:
        if len(chosen) < n and c.family not in seen and c not in chosen:
            chosen.append(c)
            seen.add(c.family)
    for c in ranked:
        if len(chosen) < n and c not in chosen:
            chosen.append(c)
    return [c for c in ranked if c in chosen]


def _pool(c: _Cand, instances: int | None) -> Pool:
    return Pool(
        instance_type=c.name,
        family=c.family,
        vcpu=c.vcpu,
        memory_gib=c.mem,
        interruption_bucket=BUCKET_LABELS[c.bucket],
        savings_pct=c.savings,
        on_demand_usd_hr=c.od,
        est_spot_usd_hr=None if c.spot is None else rnd(c.spot),
        est_spot_usd_per_vcpu_hr=None if c.spot is None else rnd(c.per_vcpu),
        instances=instances,
    )


def recommend_spot(args: SpotInput) -> SpotOutput:
    if args.max_vcpu is not None:
        require(args.max_vcpu >= args.min_vcpu, "max_vcpu", "below min_vcpu")
    if args.max_memory_gib is not None:
        require(args.max_memory_gib >= args.min_memory_gib, "max_memory_gib", "below min_memory_gib")
    priced = args.region == "us-east-1" and args.os == "Linux"
    regions = load_spot_advisor()["spot_advisor"]
    if args.region not in regions:
        raise ToolInputError(
            "region", f"not in the spot advisor snapshot (e.g. {', '.join(sorted(regions)[:8])})"
        )
    if not priced and args.strategy != "capacity-optimized":
        raise ToolInputError(
            "strategy",
            f"no on-demand prices for {args.region}/{args.os} offline, so no spot prices: {args.strategy} cannot "
            "rank by price, and savings % alone favours expensive types. Use strategy 'capacity-optimized' "
            "(interruption rate, then size) or us-east-1 Linux.",
        )
    all_c = _candidates(args, priced)
    limit = BUCKET_LABELS.index(args.max_interruption_bucket)
    ok = [c for c in all_c if c.bucket <= limit]
    ranked = _rank(ok, args.strategy)
    chosen = _diversify(ranked, args.pools)
    warns = staleness_warnings(use_spot=True)
    warns.append(
        "No spot price history is available offline: prices are estimates from the advisor's savings, "
        "which are monthly averages that miss short spikes."
    )
    if not priced:
        warns.append(
            f"No on-demand prices for {args.region}/{args.os} in the snapshot: ranked by interruption rate and "
            "size only; savings % are listed, not used to rank."
        )
    if args.max_vcpu is None:
        warns.append(f"No max_vcpu: pools limited to {max_vcpu(args)} vCPU (4x min_vcpu, at least 16).")
    if not chosen:
        warns.append(
            f"No type meets the requirements within interruption {args.max_interruption_bucket} "
            f"({len(all_c)} meet the size requirements at any interruption rate)."
        )
    elif len(chosen) < args.pools:
        warns.append(
            f"Only {len(chosen)} pool(s) qualify; fewer than the {args.pools} asked for weakens diversification."
        )
    per_pool = None if args.target_vcpus is None or not chosen else args.target_vcpus / len(chosen)
    sel = [_pool(c, None if per_pool is None else math.ceil(per_pool / c.vcpu)) for c in chosen]
    fb = _fallback(all_c, args.target_vcpus) if args.on_demand_fallback and priced else None
    if args.on_demand_fallback and not priced:
        warns.append("On-demand fallback not priced: no on-demand prices for this region/OS offline.")
    blended = None
    if chosen and all(c.spot is not None for c in chosen):
        blended = rnd(sum(c.savings for c in chosen) / len(chosen), 2)
    age = (envelope.today() - SPOT_ADVISOR_AS_OF).days
    return SpotOutput(
        method=Method(
            name=f"{args.strategy} ranking, diversified across {args.pools} pools",
            reference="EC2 Fleet / Spot allocation strategies; AWS Spot Instance Advisor",
            parameters={
                "strategy": args.strategy,
                "max_interruption_bucket": args.max_interruption_bucket,
                "pools": args.pools,
                "workload_class": args.workload_class,
                "families_allowed": "as given"
                if args.families
                else CLASS_PREFIXES.get(args.workload_class, "any"),
                "diversified_by": "generation, then family",
                "rank_key": "interruption bucket, then est. spot USD per vCPU-hour"
                if args.strategy == "price-capacity-optimized"
                else args.strategy,
            },
        ),
        data_sources=catalog_sources(use_spot=True),
        assumptions=[
            "Capacity availability is approximated by the advisor's interruption-frequency bucket.",
            "A pool here is an instance type; availability zones are not in the snapshot, so spread across AZs too.",
            "Estimated spot price = on-demand x (1 - savings %).",
        ],
        warnings=dedupe(warns),
        confidence=f"snapshot ~{age} days old; interruption buckets are monthly averages",
        region=args.region,
        os=args.os,
        selected=sel,
        ranked=[_pool(c, None) for c in ranked[:20]],
        on_demand_fallback=fb,
        est_blended_savings_pct=blended,
        snapshot_age_days=age,
    )


def _fallback(cands: list[_Cand], target: int | None) -> Fallback | None:
    priced = [c for c in cands if c.od is not None]
    if not priced:
        return None
    if target is None:  # one instance: the cheapest that meets the requirements
        best = min(priced, key=lambda c: (c.od or 0.0, c.name))
    else:  # a capacity: the cheapest per vCPU
        best = min(priced, key=lambda c: ((c.od or 0.0) / c.vcpu if c.vcpu else math.inf, c.name))
    return Fallback(
        instance_type=best.name,
        on_demand_usd_hr=best.od or 0.0,
        instances=None if target is None else math.ceil(target / best.vcpu),
    )


TOOL = BuiltinTool(
    name="recommend_spot",
    title="Recommend spot instance pools",
    description=(
        "Rank EC2 spot pools the way price-capacity-optimized allocation does (least interrupted, then cheapest) over "
        "the AWS Spot Instance Advisor snapshot, diversified across N instance types, capped at an interruption "
        "bucket, with an on-demand fallback; states the snapshot's age (no price history offline)."
    ),
    input_model=SpotInput,
    output_model=SpotOutput,
    handler=recommend_spot,
    tags=("cloud", "aws", "spot", "finops", "ec2"),
)
