"""``rightsize_vm``: recommend an instance type from utilisation, with saving and risk.

Without a memory series the default is to size by CPU alone across the same generation's
c/m/r families (m6i -> c6i/m6i/r6i), saying loudly that memory was not checked and listing
the cheapest fit of each family; ``without_memory="keep_memory"`` restores the old rule (never
cut memory, which from CPU alone never downsizes). A machine that does almost nothing is
reported ``idle`` (stop or schedule it), burstable candidates are checked against their CPU
credits, and a recommendation that saturates in the tool's own backtest says so.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.common.envelope import (
    HOURS_PER_MONTH,
    Envelope,
    Method,
    OutputModel,
    StrictInput,
    dedupe,
    rnd,
    user_data_source,
)
from ucp.builtins.cloud.common.instances import (
    DERIVED_SPECS_SOURCE,
    InstanceType,
    catalog_sources,
    get_type,
    load_catalog,
    require_specs,
    staleness_warnings,
)
from ucp.builtins.cloud.common.series import Series, SeriesInput, iso, load_series
from ucp.builtins.cloud.rightsizing import burst, sizing

MIN_HOURS = 30.0  # Compute Optimizer needs 30 consecutive hours of metrics
IDLE_P95_PCT = 3.0  # Azure Advisor's shutdown threshold: p95 CPU below 3%
IDLE_MAX_PCT = 10.0  # ...and no 5-minute peak above 10%
BACKTEST_SATURATION_WARN = 0.01  # warn when >1% of the backtest's test intervals saturate


class CustomProfile(StrictInput):
    cpu_percentile: float = Field(ge=50, le=100)
    cpu_headroom_pct: float = Field(ge=0, le=400)
    memory_percentile: float = Field(default=100, ge=50, le=100)
    memory_headroom_pct: float = Field(default=20, ge=0, le=400)


class RightsizeInput(StrictInput):
    current_instance_type: str = Field(description="e.g. m5.2xlarge (us-east-1 catalog).")
    cpu: SeriesInput = Field(description="CPU utilisation of the current instance, percent 0-100.")
    memory: SeriesInput | None = Field(
        default=None, description="Memory utilisation, percent 0-100. Without it memory is never cut."
    )
    profile: Literal["aws-default", "vpa-like", "azure-user-facing", "azure-batch", "custom"] = "aws-default"
    custom: CustomProfile | None = Field(default=None, description="Required when profile is 'custom'.")
    lookback_days: float = Field(
        default=14, gt=0, le=93, description="Use only the last N days (AWS: 14, 32 or 93)."
    )
    candidate_families: list[str] | None = Field(
        default=None, description="Default: the current family only."
    )
    allow_architecture_change: bool = False
    without_memory: Literal["cpu_only", "keep_memory"] = Field(
        default="cpu_only",
        description="No memory series: 'cpu_only' sizes by CPU across the same generation's c/m/r families "
        "(memory unchecked, said in the output); 'keep_memory' never cuts memory (never downsizes).",
    )


class TypeInfo(OutputModel):
    instance_type: str
    vcpu: int
    memory_gib: float
    on_demand_usd_hr: float


class Backtest(OutputModel):
    train: str = Field(description="Time range the recommendation was computed on.")
    test: str
    recommended_type: str | None
    cpu_saturated_share: float | None = Field(
        description="Share of test intervals whose CPU demand exceeds the type."
    )
    memory_saturated_share: float | None


class BurstCredits(OutputModel):
    instance_type: str
    baseline_pct_per_vcpu: float
    throttled_share_standard: float = Field(description="Share of intervals throttled in standard mode.")
    unlimited_surplus_usd_month: float = Field(description="Surplus credits billed in unlimited mode.")
    min_balance_pct: float


class RightsizeOutput(Envelope):
    finding: Literal["over-provisioned", "under-provisioned", "optimized", "idle", "no-fit"]
    memory_checked: bool = Field(description="False: sized by CPU only; check memory before applying.")
    current: TypeInfo
    recommended: TypeInfo | None
    alternatives: list[TypeInfo]
    required_vcpu: float
    required_memory_gib: float | None = Field(description="None when memory was not observed (cpu_only).")
    saving_usd_hr: float
    saving_usd_month: float
    saving_pct: float
    in_sample_cpu_saturated_share: float | None = Field(
        description="Share of input intervals above the recommended vCPU."
    )
    in_sample_memory_saturated_share: float | None
    backtest: Backtest | None = Field(description="Recommend from the first half, score on the second.")
    shutdown_candidate: bool | None = Field(
        default=None, description="Azure Advisor idle rule (azure profiles only)."
    )
    burst: BurstCredits | None = Field(
        default=None, description="CPU-credit model when the current or recommended type is burstable."
    )


def _profile(args: RightsizeInput) -> sizing.Profile:
    if args.profile != "custom":
        if args.custom is not None:
            raise ToolInputError("custom", "only allowed with profile 'custom'")
        return sizing.PROFILES[args.profile]
    c = args.custom
    if c is None:
        raise ToolInputError("custom", "profile 'custom' needs cpu_percentile and cpu_headroom_pct")
    return sizing.Profile(
        "custom",
        c.cpu_percentile,
        c.cpu_headroom_pct / 100,
        c.memory_percentile,
        c.memory_headroom_pct / 100,
        reference="caller-defined",
    )


def _window(s: Series, days: float) -> tuple[np.ndarray, np.ndarray]:
    keep = s.t >= s.t[-1] - days * 86400.0
    return s.t[keep], s.v[keep]


def _check_pct(s: Series) -> None:
    bad = np.flatnonzero((s.v < 0) | (s.v > 100))
    if bad.size:
        i = int(bad[0])
        raise ToolInputError(f"{s.field}[{i}].value", f"utilisation must be within 0-100 %, got {s.v[i]:g}")


def _info(it: InstanceType) -> TypeInfo:
    vcpu, mem = require_specs(it, "current_instance_type")
    return TypeInfo(instance_type=it.name, vcpu=vcpu, memory_gib=mem, on_demand_usd_hr=it.od_usd_hr or 0.0)


def _recommend(
    prof: sizing.Profile,
    cur: InstanceType,
    pool: list[InstanceType],
    cpu: tuple[np.ndarray, np.ndarray],
    mem: tuple[np.ndarray, np.ndarray] | None,
    cpu_only: bool = False,
    step_s: float = 300.0,
    skipped: list[str] | None = None,
) -> tuple[list[InstanceType], float, float | None]:
    vcpu, mem_gib = require_specs(cur, "current_instance_type")
    cpu_d = cpu[1] / 100.0 * vcpu
    mem_d = None if mem is None else (mem[0], mem[1] / 100.0 * mem_gib)
    need_cpu, need_mem = sizing.required_capacity(prof, cpu_d, mem_d)
    need_mem_v = None if need_mem is None and cpu_only else mem_gib if need_mem is None else need_mem
    fits = sizing.choose(pool, need_cpu, need_mem_v or 0.0)
    out = []
    for it in fits:  # a burstable type fits only if its credits last through the observed demand
        base = burst.baseline(it.family, it.size) if it.burstable else None
        if base is not None and burst.simulate(cpu_d, step_s, it.vcpu or 0, base).throttled_share > 0:
            if skipped is not None:
                skipped.append(it.name)
            continue
        out.append(it)
    return out, need_cpu, need_mem_v


def _share(s: tuple[np.ndarray, np.ndarray] | None, scale: float, cap: float | None) -> float | None:
    if s is None or cap is None:
        return None
    return rnd(sizing.saturated_share(s[1] / 100.0 * scale, cap), 4)


def rightsize_vm(args: RightsizeInput) -> RightsizeOutput:
    prof = _profile(args)
    cur = get_type(args.current_instance_type, "current_instance_type")
    vcpu, mem_gib = require_specs(cur, "current_instance_type")
    if cur.od_usd_hr is None:
        raise ToolInputError("current_instance_type", f"{cur.name} has no on-demand price in the snapshot")
    cpu_s = load_series(args.cpu, "cpu", min_points=3)
    _check_pct(cpu_s)
    mem_s = None if args.memory is None else load_series(args.memory, "memory", min_points=3)
    if mem_s is not None:
        _check_pct(mem_s)
    assumptions, warnings = cpu_s.notes()
    if mem_s is not None:
        a, w = mem_s.notes()
        assumptions += a
        warnings += w
    ct, cv = _window(cpu_s, args.lookback_days)
    ct, cv = sizing.five_minute_max(ct, cv, cpu_s.step_s)
    cpu = (ct, cv)
    mem = None if mem_s is None else _window(mem_s, args.lookback_days)
    for fam_i, fam in enumerate(args.candidate_families or []):
        if not any(it.family == fam.lower() for it in sizing.candidates(cur, [fam], True)):
            raise ToolInputError(
                f"candidate_families[{fam_i}]", f"no priced types with specs in family {fam!r}"
            )
    cpu_only = mem_s is None and args.without_memory == "cpu_only"
    families = args.candidate_families
    if cpu_only and families is None:
        families = _siblings(cur)
    pool = sizing.candidates(cur, families, args.allow_architecture_change)
    skipped: list[str] = []
    fits, need_cpu, need_mem = _recommend(prof, cur, pool, cpu, mem, cpu_only, 300.0, skipped)
    if skipped:
        warnings.append(
            f"Skipped burstable {', '.join(skipped[:3])}: their CPU credits would run out on this demand "
            "(throttled to the baseline in standard mode)."
        )
    rec = fits[0] if fits else None
    need_mem_txt = "any memory" if need_mem is None else f"{need_mem:.1f} GiB"
    if rec is None:
        finding = "no-fit"
        warnings.append(
            f"No type in {sorted({it.family for it in pool})} has {need_cpu:.2f} vCPU and {need_mem_txt}."
        )
    elif rec.name == cur.name or (rec.od_usd_hr or 0) >= cur.od_usd_hr:
        finding = "under-provisioned" if need_cpu > vcpu or (need_mem or 0.0) > mem_gib else "optimized"
        if finding == "optimized":
            rec = cur
    else:
        finding = "over-provisioned"
    p95, peak = sizing.percentile(cv, 95), float(np.max(cv))
    if finding != "under-provisioned" and p95 < IDLE_P95_PCT and peak <= IDLE_MAX_PCT:
        finding = "idle"
        warnings.append(
            f"Idle: p95 CPU {p95:.1f}% and peak {peak:.1f}% of {vcpu} vCPU. Stop it, schedule it "
            "(plan_schedule) or merge its work: a smaller type would still be mostly idle."
        )
    if cpu_only:
        fams = sorted({it.family for it in pool})
        warnings.append(
            f"Memory not observed: sized by CPU alone across {', '.join(fams)}"
            + (
                f"; {rec.name} has {rec.memory_gib:g} GiB against {mem_gib:g} GiB now. Check memory use before applying "
                "(a memory series, e.g. from the CloudWatch agent, makes this safe)."
                if rec is not None and (rec.memory_gib or 0) < mem_gib
                else "."
            )
        )
    derived = [it.name for it in [cur, *([rec] if rec else [])] if it.specs_derived]
    saving = cur.od_usd_hr - (rec.od_usd_hr or 0.0) if rec is not None else 0.0
    span_h = (cpu[0][-1] - cpu[0][0]) / 3600.0
    if span_h < MIN_HOURS:
        warnings.append(
            f"Only {span_h:.1f} h of CPU data; Compute Optimizer needs at least {MIN_HOURS:.0f} h."
        )
    if span_h < args.lookback_days * 24 - 1:
        warnings.append(f"The data covers {span_h / 24:.1f} of the {args.lookback_days:g} lookback days.")
    if mem_s is None:
        warnings.append(
            "No memory data: memory is never cut (the recommendation keeps at least the current memory)."
        )
    if sizing.percentile(cv, 99) >= 95:
        warnings.append(
            "CPU reaches ~100% of the current size: true demand may be higher than observed (censored)."
        )
    if cpu_s.step_s > 300:
        warnings.append("CPU samples are coarser than 5 minutes: short peaks may be averaged away.")
    rec_cap = (rec.vcpu, rec.memory_gib) if rec is not None else (None, None)
    bt = _backtest(prof, cur, pool, cpu, mem, cpu_only)
    if (
        bt is not None
        and rec is not None
        and bt.cpu_saturated_share is not None
        and bt.cpu_saturated_share > BACKTEST_SATURATION_WARN
    ):
        warnings.append(
            f"This tool's own backtest (sized on the first half, scored on the second) saw "
            f"{100 * bt.cpu_saturated_share:.1f}% of intervals above {bt.recommended_type}'s CPU: the "
            "recommendation would have throttled. Prefer a more conservative profile (aws-default) or the next size."
        )
    burst_info = _burst(rec if rec is not None and rec.burstable else cur, cpu, vcpu)
    return RightsizeOutput(
        method=Method(
            name=f"percentile sizing, profile {prof.name}",
            reference=prof.reference,
            parameters={
                "cpu_percentile": prof.cpu_percentile,
                "cpu_headroom": rnd(prof.cpu_headroom, 4),
                "memory_percentile": prof.memory_percentile,
                "memory_headroom": rnd(prof.memory_headroom, 4),
                "memory_statistic": "daily peaks" if prof.memory_daily_peaks else "samples",
                "lookback_days": args.lookback_days,
                "cpu_aggregation": "max per 5-minute slot",
                "families": sorted({it.family for it in pool}),
                "pricing": "on-demand",
            },
        ),
        data_sources=[
            user_data_source("cpu utilisation", cpu_s.start(), cpu_s.end()),
            *catalog_sources(False),
            *([DERIVED_SPECS_SOURCE] if derived else []),
        ],
        assumptions=dedupe(
            [
                *assumptions,
                "CPU demand in vCPU = utilisation % x current vCPU; a vCPU of another family is treated as equal.",
                *(
                    [f"Specs of {', '.join(derived)} derived from the type name (not in the snapshot)."]
                    if derived
                    else []
                ),
                "Saving uses on-demand Linux prices in us-east-1 and 730 hours a month.",
            ]
        ),
        warnings=dedupe(warnings + staleness_warnings(use_spot=False)),
        confidence=_confidence(span_h, mem_s is not None),
        finding=finding,
        memory_checked=mem_s is not None,
        current=_info(cur),
        recommended=None if rec is None else _info(rec),
        alternatives=_alternatives(fits, rec, cpu_only),
        required_vcpu=rnd(need_cpu, 4),
        required_memory_gib=None if need_mem is None else rnd(need_mem, 4),
        saving_usd_hr=rnd(saving),
        saving_usd_month=rnd(saving * HOURS_PER_MONTH, 2),
        saving_pct=rnd(100 * saving / cur.od_usd_hr, 2),
        in_sample_cpu_saturated_share=_share(cpu, vcpu, rec_cap[0]),
        in_sample_memory_saturated_share=_share(mem, mem_gib, rec_cap[1]),
        backtest=bt,
        shutdown_candidate=_azure_idle(cpu) if prof.name.startswith("azure") else None,
        burst=burst_info,
    )


def _siblings(cur: InstanceType) -> list[str] | None:
    """The same generation's c/m/r families that the catalog prices (m6i -> c6i, m6i, r6i)."""
    gen = cur.generation
    if gen is None:
        return None
    known = {it.family for it in load_catalog().values() if it.has_specs and it.od_usd_hr}
    fams = [f"{x}{gen}" for x in "cmr" if f"{x}{gen}" in known]
    return sorted({*fams, cur.family})


def _alternatives(fits: list[InstanceType], rec: InstanceType | None, cpu_only: bool) -> list[TypeInfo]:
    """The next three fits; sized by CPU alone, the cheapest fit of each other family instead."""
    if not cpu_only:
        return [_info(it) for it in fits[1:4]]
    out: list[InstanceType] = []
    seen = {rec.family} if rec is not None else set()
    for it in fits:
        if it.family not in seen:
            seen.add(it.family)
            out.append(it)
    return [_info(it) for it in out[:3]]


def _burst(it: InstanceType, cpu: tuple[np.ndarray, np.ndarray], cur_vcpu: int) -> BurstCredits | None:
    base = burst.baseline(it.family, it.size) if it.burstable else None
    if base is None or not it.vcpu:
        return None
    run = burst.simulate(cpu[1] / 100.0 * cur_vcpu, 300.0, it.vcpu, base)
    return BurstCredits(
        instance_type=it.name,
        baseline_pct_per_vcpu=rnd(100 * base, 2),
        throttled_share_standard=rnd(run.throttled_share, 4),
        unlimited_surplus_usd_month=rnd(run.surplus_usd_per_hour * HOURS_PER_MONTH, 2),
        min_balance_pct=rnd(100 * run.min_balance_share, 2),
    )


def _confidence(span_h: float, has_memory: bool) -> str:
    level = "high" if span_h >= 14 * 24 else "medium" if span_h >= 7 * 24 else "low"
    mem = "" if has_memory else "; memory not observed"
    return f"{level}: {span_h / 24:.1f} days of CPU data{mem}"


def _backtest(
    prof: sizing.Profile,
    cur: InstanceType,
    pool: list[InstanceType],
    cpu: tuple[np.ndarray, np.ndarray],
    mem: tuple[np.ndarray, np.ndarray] | None,
    cpu_only: bool = False,
) -> Backtest | None:
    t = cpu[0]
    if t[-1] - t[0] < 2 * 86400:
        return None
    mid = t[0] + (t[-1] - t[0]) / 2

    def split(s: tuple[np.ndarray, np.ndarray], first: bool) -> tuple[np.ndarray, np.ndarray]:
        k = s[0] < mid if first else s[0] >= mid
        return s[0][k], s[1][k]

    mem_train = None if mem is None else split(mem, True)
    if mem_train is not None and mem_train[0].size < 3:
        mem_train = None
    fits, _, _ = _recommend(prof, cur, pool, split(cpu, True), mem_train, cpu_only and mem_train is None)
    rec = fits[0] if fits else None
    vcpu, mem_gib = require_specs(cur, "current_instance_type")
    return Backtest(
        train=f"{iso(t[0])} to {iso(mid)}",
        test=f"{iso(mid)} to {iso(t[-1])}",
        recommended_type=None if rec is None else rec.name,
        cpu_saturated_share=_share(split(cpu, False), vcpu, None if rec is None else rec.vcpu),
        memory_saturated_share=_share(
            None if mem is None else split(mem, False), mem_gib, None if rec is None else rec.memory_gib
        ),
    )


def _azure_idle(cpu: tuple[np.ndarray, np.ndarray]) -> bool:
    """Azure's shutdown rule on CPU only: p95 < 3% and, over the last 3 days, every 30-minute average <= 2%."""
    t, v = cpu
    last = t >= t[-1] - 3 * 86400
    idx = np.floor((t[last] - t[last][0]) / 1800).astype(np.int64)
    means = np.bincount(idx, weights=v[last]) / np.maximum(np.bincount(idx), 1)
    return bool(sizing.percentile(v, 95) < 3.0 and float(np.max(means[np.bincount(idx) > 0])) <= 2.0)


TOOL = BuiltinTool(
    name="rightsize_vm",
    title="Rightsize a VM",
    description=(
        "Recommend a cheaper (or safer) EC2 type from a CPU (and optional memory) utilisation series, with the saving "
        "and the share of intervals that would have saturated. Profiles: aws-default (AWS Compute Optimizer, p99.5+20%), "
        "vpa-like (p90+15%), azure-user-facing / azure-batch (Azure Advisor), custom. Without memory data it sizes by CPU "
        "across the same generation's c/m/r families and says memory was not checked; reports idle machines, burstable "
        "credit exhaustion and saturation in its own backtest."
    ),
    input_model=RightsizeInput,
    output_model=RightsizeOutput,
    handler=rightsize_vm,
    tags=("cloud", "aws", "ec2", "rightsizing", "finops"),
)
