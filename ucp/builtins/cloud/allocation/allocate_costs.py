"""``allocate_costs``: the OpenCost allocation model, with allocations + idle = total."""

from __future__ import annotations

from collections import defaultdict

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.allocation.schema import (
    AllocateInput,
    AllocateOutput,
    Allocation,
    IdleCost,
    NodeRates,
)
from ucp.builtins.cloud.common.envelope import Method, dedupe, require, rnd, user_data_source
from ucp.builtins.cloud.common.instances import catalog_sources, get_type, staleness_warnings

# OpenCost's default list prices, used only as the ratios that split a node's price.
CPU_HR, RAM_GIB_HR, GPU_HR = 0.031611, 0.004237, 0.95
TOL = 1e-9
MIN_WEIGHT = 1e-12  # weights summing below this (USD) are treated as zero

__all__ = ["TOOL", "AllocateInput", "AllocateOutput", "allocate_costs"]


def _node_rates(args: AllocateInput, warns: list[str]) -> dict[str, NodeRates]:
    rates: dict[str, NodeRates] = {}
    used_catalog = False
    for j, n in enumerate(args.nodes):
        fld = f"nodes[{j}]"
        require(n.name not in rates, f"{fld}.name", f"duplicate node name {n.name!r}")
        cpu, mem, hourly = n.cpu_cores, n.memory_gib, n.hourly_cost_usd
        if n.instance_type is not None:
            it = get_type(n.instance_type, f"{fld}.instance_type")
            cpu = cpu if cpu is not None else it.vcpu
            mem = mem if mem is not None else it.memory_gib
            if hourly is None:
                hourly = it.od_usd_hr
                used_catalog = True
        if cpu is None or mem is None:
            raise ToolInputError(
                f"{fld}.cpu_cores", "unknown: give cpu_cores and memory_gib (or a catalog type)"
            )
        if hourly is None:
            raise ToolInputError(
                f"{fld}.hourly_cost_usd", "unknown: give hourly_cost_usd or a priced instance_type"
            )
        require(cpu > 0 and mem > 0, f"{fld}.cpu_cores", "capacity must be positive")
        hours = args.window_hours if n.hours is None else n.hours
        require(
            hours <= args.window_hours + TOL, f"{fld}.hours", f"exceeds window_hours ({args.window_hours:g})"
        )
        cost = hourly * hours
        w_cpu, w_ram, w_gpu = cpu * CPU_HR, mem * RAM_GIB_HR, n.gpus * GPU_HR
        w = w_cpu + w_ram + w_gpu
        rates[n.name] = NodeRates(
            node=n.name,
            hours=hours,
            cost_usd=cost,
            cpu_cores=cpu,
            memory_gib=mem,
            gpus=n.gpus,
            cpu_usd_per_core_hr=hourly * w_cpu / w / cpu,
            ram_usd_per_gib_hr=hourly * w_ram / w / mem,
            gpu_usd_per_gpu_hr=hourly * w_gpu / w / n.gpus if n.gpus else 0.0,
        )
    if used_catalog:
        warns += staleness_warnings(use_spot=False)
    return rates


def _key(args: AllocateInput, w_name: str, node: str, labels: dict[str, str]) -> str:
    if args.aggregate_by == "workload":
        return w_name
    if args.aggregate_by == "node":
        return node
    return labels.get(args.aggregate_by, "__unallocated__")


def allocate_costs(args: AllocateInput) -> AllocateOutput:
    warns: list[str] = []
    rates = _node_rates(args, warns)
    comp: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    used: dict[str, list[float]] = {n: [0.0, 0.0, 0.0] for n in rates}  # core-h, GiB-h, GPU-h
    usage_share: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # cpu usage, cpu charged
    shared_pool = sum(s.cost_usd for s in args.shared_costs)
    shared_comp: dict[str, float] = {"cpu": 0.0, "ram": 0.0, "gpu": 0.0}
    for i, w in enumerate(args.workloads):
        fld = f"workloads[{i}]"
        r = rates.get(w.node)
        if r is None:
            raise ToolInputError(f"{fld}.node", f"no node named {w.node!r}")
        hours = r.hours if w.hours is None else w.hours
        require(hours <= r.hours + TOL, f"{fld}.hours", f"exceeds node {w.node}'s {r.hours:g} h")
        cpu_h = max(w.cpu_request, w.cpu_usage) * hours
        ram_h = max(w.memory_request_gib, w.memory_usage_gib) * hours
        gpu_h = w.gpu_request * hours
        u = used[w.node]
        u[0] += cpu_h
        u[1] += ram_h
        u[2] += gpu_h
        for total, cap, what in (
            (u[0], r.cpu_cores, "CPU"),
            (u[1], r.memory_gib, "memory"),
            (u[2], r.gpus, "GPU"),
        ):
            if total > cap * r.hours * (1 + 1e-9) + TOL:
                raise ToolInputError(
                    fld,
                    f"{what} max(request, usage) on {w.node} totals {total:g} unit-hours, above "
                    f"its capacity {cap * r.hours:g}; check requests and usage",
                )
        cost = {
            "cpu": cpu_h * r.cpu_usd_per_core_hr,
            "ram": ram_h * r.ram_usd_per_gib_hr,
            "gpu": gpu_h * r.gpu_usd_per_gpu_hr,
        }
        if w.shared:
            shared_pool += sum(cost.values())
            for c, v in cost.items():
                shared_comp[c] += v
            continue
        key = _key(args, w.name, w.node, w.labels)
        for c, v in cost.items():
            comp[key][c] += v
        comp[key]["n"] += 1
        usage_share[key][0] += w.cpu_usage * hours
        usage_share[key][1] += cpu_h
    keys = sorted(comp)
    own = {k: comp[k]["cpu"] + comp[k]["ram"] + comp[k]["gpu"] for k in keys}
    shares = _split(args, keys, own, shared_pool)
    for k, v in shares.items():
        comp[k]["shared"] += v
    idle_c = (
        sum(r.cpu_cores * r.hours * r.cpu_usd_per_core_hr for r in rates.values())
        - shared_comp["cpu"]
        - sum(comp[k]["cpu"] for k in keys)
    )
    idle_r = (
        sum(r.memory_gib * r.hours * r.ram_usd_per_gib_hr for r in rates.values())
        - shared_comp["ram"]
        - sum(comp[k]["ram"] for k in keys)
    )
    idle_g = (
        sum(r.gpus * r.hours * r.gpu_usd_per_gpu_hr for r in rates.values())
        - shared_comp["gpu"]
        - sum(comp[k]["gpu"] for k in keys)
    )
    external = sum(s.cost_usd for s in args.shared_costs)
    idle_total = (
        sum(r.cost_usd for r in rates.values()) + external - sum(own[k] + comp[k]["shared"] for k in keys)
    )
    if args.idle == "share":
        idle_shares = proportional(idle_total, own)
        if idle_shares is None:
            warns.append("Idle was not shared: no allocation has a cost to weight it by.")
        else:
            for k, v in idle_shares.items():
                comp[k]["idle"] = v
            idle_c = idle_r = idle_g = 0.0
    return _output(args, rates, comp, keys, usage_share, shared_pool, (idle_c, idle_r, idle_g), warns)


def proportional(pool: float, weights: dict[str, float]) -> dict[str, float] | None:
    """Split ``pool`` in proportion to ``weights``; the largest weight takes the rounding
    remainder so the parts add up to ``pool``. ``None`` if the weights sum to (about) zero."""
    total = sum(weights.values())
    if total <= MIN_WEIGHT:
        return None
    parts = {k: pool * w / total for k, w in weights.items()}
    top = max(weights, key=lambda k: (weights[k], k))
    parts[top] = pool - sum(v for k, v in parts.items() if k != top)
    return parts


def _split(args: AllocateInput, keys: list[str], own: dict[str, float], pool: float) -> dict[str, float]:
    if pool == 0:
        return {}
    if not keys:
        return {"__shared__": pool}
    if args.shared_split == "even":
        return {k: pool / len(keys) for k in keys}
    if args.shared_split == "by_usage":
        return proportional(pool, {k: own[k] for k in keys}) or {k: pool / len(keys) for k in keys}
    weights = args.weights or {}
    for k in keys:
        require(k in weights, "weights", f"no weight for {k!r} (weights are needed for every allocation)")
    for k, w in weights.items():
        require(k in keys, "weights", f"{k!r} is not an allocation name")
        require(w >= 0, "weights", f"weight of {k!r} is negative")
    parts = proportional(pool, {k: weights[k] for k in keys})
    require(parts is not None, "weights", "must not all be zero")
    return parts or {}


def _output(
    args: AllocateInput,
    rates: dict[str, NodeRates],
    comp: dict[str, dict[str, float]],
    keys: list[str],
    usage: dict[str, list[float]],
    shared_pool: float,
    idle_parts: tuple[float, float, float],
    warns: list[str],
) -> AllocateOutput:
    total = sum(r.cost_usd for r in rates.values()) + sum(s.cost_usd for s in args.shared_costs)
    names = keys + (["__shared__"] if "__shared__" in comp and "__shared__" not in keys else [])
    allocs = []
    for k in names:
        c = comp[k]
        t = c["cpu"] + c["ram"] + c["gpu"] + c["shared"] + c["idle"]
        eff = usage[k][0] / usage[k][1] if usage[k][1] > 0 else None
        allocs.append(
            Allocation(
                name=k,
                workloads=int(c["n"]),
                cpu_cost=rnd(c["cpu"]),
                ram_cost=rnd(c["ram"]),
                gpu_cost=rnd(c["gpu"]),
                shared_cost=rnd(c["shared"]),
                idle_cost=rnd(c["idle"]),
                total_cost=rnd(t),
                cpu_efficiency=None if eff is None else rnd(eff, 4),
            )
        )
    total = rnd(total)
    alloc_sum = sum(a.total_cost for a in allocs)
    idle_total = total - alloc_sum  # defined so that the rounded figures add up
    if idle_total < -1e-6:
        warns.append("Idle is negative: charges exceed the node costs (check hours and prices).")
    return AllocateOutput(
        method=Method(
            name="OpenCost allocation: max(request, usage) x rate; idle = total - allocated",
            reference="OpenCost cost-allocation model",
            parameters={
                "aggregate_by": args.aggregate_by,
                "shared_split": args.shared_split,
                "idle": args.idle,
                "window_hours": args.window_hours,
                "node_price_split": {
                    "cpu_usd_per_core_hr": CPU_HR,
                    "ram_usd_per_gib_hr": RAM_GIB_HR,
                    "gpu_usd_per_hr": GPU_HR,
                },
            },
        ),
        data_sources=[user_data_source("nodes and workloads"), *catalog_sources(use_spot=False)],
        assumptions=[
            "A node's price is split into CPU, RAM and GPU in proportion to OpenCost's default list prices.",
            "Usage is the average over each workload's running hours.",
            f"Shared costs ({shared_pool:.4f} USD incl. shared workloads) are split {args.shared_split.replace('_', ' ')}.",
        ],
        warnings=dedupe(warns),
        confidence="exact arithmetic on the inputs; as good as the prices and usage given",
        window_hours=args.window_hours,
        total_cost=total,
        allocations=sorted(allocs, key=lambda a: (-a.total_cost, a.name)),
        idle=IdleCost(
            cpu_cost=rnd(idle_parts[0]),
            ram_cost=rnd(idle_parts[1]),
            gpu_cost=rnd(idle_parts[2]),
            total_cost=rnd(idle_total, 9),
        ),
        allocated_plus_idle=rnd(alloc_sum + idle_total, 9),
        node_rates=[r.rounded() for r in rates.values()],
    )


TOOL = BuiltinTool(
    name="allocate_costs",
    title="Allocate cluster costs to workloads/teams",
    description=(
        "OpenCost's allocation model: each workload pays max(request, usage) x its node's CPU/RAM/GPU rate; idle = total "
        "node cost - allocated; shared costs split evenly, by usage or by weight; aggregate by workload, node or label "
        "(e.g. team). Allocations + idle = total, always."
    ),
    input_model=AllocateInput,
    output_model=AllocateOutput,
    handler=allocate_costs,
    tags=("cloud", "kubernetes", "finops", "cost-allocation", "opencost"),
)
