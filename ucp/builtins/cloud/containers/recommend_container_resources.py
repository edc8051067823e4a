"""``recommend_container_resources``: VPA-recommender bounds with Goldilocks-style output."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
from pydantic import Field

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.common.envelope import (
    DataSource,
    Envelope,
    Method,
    OutputModel,
    StrictInput,
    dedupe,
    rnd,
    user_data_source,
)
from ucp.builtins.cloud.common.series import Series, SeriesInput, load_series
from ucp.builtins.cloud.containers import vpa


class OomEvent(StrictInput):
    timestamp: datetime
    memory_request_bytes: float | None = Field(
        default=None, ge=0, description="Default: the container's current request."
    )


class ResourcePair(StrictInput):
    cpu_cores: float | None = Field(default=None, ge=0)
    memory_bytes: float | None = Field(default=None, ge=0)


class ContainerInput(StrictInput):
    name: str = Field(min_length=1)
    cpu: SeriesInput | None = Field(default=None, description="CPU usage in cores.")
    memory: SeriesInput | None = Field(default=None, description="Memory working set in bytes.")
    oom_events: list[OomEvent] = Field(default_factory=list)
    current_requests: ResourcePair | None = None
    min_allowed: ResourcePair | None = Field(default=None, description="VPA resourcePolicy minAllowed.")
    max_allowed: ResourcePair | None = Field(default=None, description="VPA resourcePolicy maxAllowed.")


class ContainersInput(StrictInput):
    containers: list[ContainerInput] = Field(min_length=1, max_length=200)
    safety_margin_pct: float = Field(default=15, ge=0, le=200)
    history_days: float = Field(default=vpa.HISTORY_DAYS, gt=0, le=90, description="Ignore older samples.")


class Bounds(OutputModel):
    lower_bound: float
    target: float
    upper_bound: float


class K8sResources(OutputModel):
    requests: dict[str, str]
    limits: dict[str, str]


class ContainerRecommendation(OutputModel):
    name: str
    cpu_cores: Bounds | None
    memory_bytes: Bounds | None
    confidence_days: float = Field(description="History length in days; the bounds widen when it is short.")
    oom_bumps: int
    guaranteed: K8sResources = Field(description="Goldilocks: request = limit = target.")
    burstable: K8sResources = Field(description="Goldilocks: request = lower bound, limit = upper bound.")
    change_vs_current: dict[str, float] = Field(description="target / current request, per resource.")


class ContainersOutput(Envelope):
    recommendations: list[ContainerRecommendation]


def cpu_quantity(cores: float) -> str:
    return f"{max(1, math.ceil(cores * 1000 - 1e-9))}m"


def memory_quantity(b: float) -> str:
    return f"{max(1, math.ceil(b / 2**20 - 1e-9))}Mi"


def _clip(b: vpa.Bounds, lo: float | None, hi: float | None) -> vpa.Bounds:
    def c(x: float) -> float:
        x = max(x, lo) if lo is not None else x
        return min(x, hi) if hi is not None else x

    return vpa.Bounds(c(b.lower), c(b.target), c(b.upper))


def _window(s: Series, days: float) -> tuple[np.ndarray, np.ndarray]:
    keep = s.t >= s.t[-1] - days * 86400
    return s.t[keep], s.v[keep]


def _nonneg(s: Series) -> None:
    bad = np.flatnonzero(s.v < 0)
    if bad.size:
        raise ToolInputError(f"{s.field}[{int(bad[0])}].value", "usage must not be negative")


def _one(c: ContainerInput, i: int, margin: float, days: float, notes: list[str]) -> ContainerRecommendation:
    fld = f"containers[{i}]"
    if c.cpu is None and c.memory is None:
        raise ToolInputError(fld, "give cpu and/or memory usage")
    lo, hi = c.min_allowed or ResourcePair(), c.max_allowed or ResourcePair()
    for r in ("cpu_cores", "memory_bytes"):
        a, b = getattr(lo, r), getattr(hi, r)
        if a is not None and b is not None and a > b:
            raise ToolInputError(f"{fld}.max_allowed.{r}", "below min_allowed")
    cpu_s = None if c.cpu is None else load_series(c.cpu, f"{fld}.cpu", min_points=2)
    mem_s = None if c.memory is None else load_series(c.memory, f"{fld}.memory", min_points=2)
    cpu_b = mem_b = None
    conf_s = cpu_s or mem_s
    assert conf_s is not None
    ct, _ = _window(conf_s, days)
    conf = vpa.confidence_days(ct, conf_s.step_s)
    for s in (cpu_s, mem_s):
        if s is not None:
            _nonneg(s)
            s_assume, s_warn = s.notes()
            notes += s_assume + s_warn
    if cpu_s is not None:
        t, v = _window(cpu_s, days)
        w = vpa.decay_weights(t, float(t[-1]))
        cpu_b = _clip(
            vpa.estimate(vpa.CPU_HISTOGRAM, v, w, conf, margin, vpa.MIN_CPU_CORES), lo.cpu_cores, hi.cpu_cores
        )
    bumps = 0
    if mem_s is not None:
        t, v = _window(mem_s, days)
        req = c.current_requests.memory_bytes if c.current_requests else None
        ooms: list[tuple[float, float]] = []
        for e in c.oom_events:
            req_b = e.memory_request_bytes if e.memory_request_bytes is not None else req
            ts = e.timestamp if e.timestamp.tzinfo else e.timestamp.replace(tzinfo=UTC)
            ooms.append((ts.timestamp(), req_b or 0.0))
        pt, pv, bumps = vpa.memory_peaks(t, v, ooms)
        w = vpa.decay_weights(pt, float(pt[-1]))
        est = vpa.estimate(vpa.MEMORY_HISTOGRAM, pv, w, conf, margin, vpa.MIN_MEMORY_BYTES)
        mem_b = _clip(est, lo.memory_bytes, hi.memory_bytes)
    elif c.oom_events:
        raise ToolInputError(f"{fld}.oom_events", "OOM events need a memory series")
    if conf < 7:
        notes.append(
            f"{c.name}: only {conf:.2f} days of history: the upper bound is x{1 + 1 / max(conf, 1e-9):.2f}."
        )
    return _recommendation(c, cpu_b, mem_b, conf, bumps)


def _recommendation(
    c: ContainerInput, cpu_b: vpa.Bounds | None, mem_b: vpa.Bounds | None, conf: float, bumps: int
) -> ContainerRecommendation:
    def q(b: vpa.Bounds, attr: str, kind: str) -> str:
        x = float(getattr(b, attr))
        return cpu_quantity(x) if kind == "cpu" else memory_quantity(x)

    g_req: dict[str, str] = {}
    b_req: dict[str, str] = {}
    b_lim: dict[str, str] = {}
    change: dict[str, float] = {}
    for kind, b in (("cpu", cpu_b), ("memory", mem_b)):
        if b is None:
            continue
        g_req[kind] = q(b, "target", kind)
        b_req[kind] = q(b, "lower", kind)
        b_lim[kind] = q(b, "upper", kind)
        cur = (
            None
            if c.current_requests is None
            else (c.current_requests.cpu_cores if kind == "cpu" else c.current_requests.memory_bytes)
        )
        if cur:
            change[kind] = rnd(b.target / cur, 4)
    return ContainerRecommendation(
        name=c.name,
        cpu_cores=None
        if cpu_b is None
        else Bounds(lower_bound=rnd(cpu_b.lower), target=rnd(cpu_b.target), upper_bound=rnd(cpu_b.upper)),
        memory_bytes=None
        if mem_b is None
        else Bounds(
            lower_bound=rnd(mem_b.lower, 0), target=rnd(mem_b.target, 0), upper_bound=rnd(mem_b.upper, 0)
        ),
        confidence_days=rnd(conf, 4),
        oom_bumps=bumps,
        guaranteed=K8sResources(requests=g_req, limits=dict(g_req)),
        burstable=K8sResources(requests=b_req, limits=b_lim),
        change_vs_current=change,
    )


def recommend_container_resources(args: ContainersInput) -> ContainersOutput:
    margin = args.safety_margin_pct / 100
    notes: list[str] = []
    recs = [_one(c, i, margin, args.history_days, notes) for i, c in enumerate(args.containers)]
    sources: list[DataSource] = [user_data_source("container usage series")]
    return ContainersOutput(
        method=Method(
            name="VPA recommender (decaying histograms) + Goldilocks request/limit mapping",
            reference="Kubernetes Vertical Pod Autoscaler recommender; Fairwinds Goldilocks",
            parameters={
                "half_life_hours": 24,
                "bucket_ratio": vpa.BUCKET_RATIO,
                "cpu_first_bucket_cores": vpa.CPU_FIRST_BUCKET,
                "memory_first_bucket_bytes": vpa.MEM_FIRST_BUCKET,
                "target_percentile": 90,
                "lower_percentile": 50,
                "upper_percentile": 95,
                "safety_margin": margin,
                "min_cpu_cores": vpa.MIN_CPU_CORES,
                "min_memory_bytes": vpa.MIN_MEMORY_BYTES,
                "oom_bump": "max(+20%, +100 MiB)",
                "memory_aggregation": "peak per 24 h",
                "history_days": args.history_days,
                "upper_bound_scale": "1 + 1/confidence_days",
                "lower_bound_scale": "(1 + 0.001/confidence_days)^-2",
            },
        ),
        data_sources=sources,
        assumptions=dedupe(
            [
                *[n for n in notes if "UTC" in n],
                "CPU samples are weighted equally apart from decay (VPA weights by the CPU request, constant here).",
                "Minimums (25 millicores, 250 MiB) apply per container; VPA splits them across a pod's containers.",
                "Confidence counts each sample as covering its spacing (VPA assumes one sample a minute).",
            ]
        ),
        warnings=dedupe([n for n in notes if "UTC" not in n]),
        confidence=f"history of {min(r.confidence_days for r in recs):.2f} to {max(r.confidence_days for r in recs):.2f} days",
        recommendations=recs,
    )


TOOL = BuiltinTool(
    name="recommend_container_resources",
    title="Recommend container requests and limits",
    description=(
        "Kubernetes VPA recommender re-implemented: decaying histograms (24 h half-life) of CPU usage and daily memory "
        "peaks give target p90, lower p50, upper p95 (+15%), minimums 25m/250Mi, OOM bump, wider bounds with little "
        "history; output as Goldilocks-style requests/limits (guaranteed and burstable)."
    ),
    input_model=ContainersInput,
    output_model=ContainersOutput,
    handler=recommend_container_resources,
    tags=("cloud", "kubernetes", "vpa", "rightsizing", "containers"),
)
