"""``plan_bin_packing``: pods onto a cost-optimal node mix, and consolidation of existing nodes."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.common.envelope import HOURS_PER_MONTH, Method, dedupe, rnd
from ucp.builtins.cloud.common.instances import catalog_sources, get_type, load_catalog, staleness_warnings
from ucp.builtins.cloud.packing import exact, heuristics, overhead
from ucp.builtins.cloud.packing.consolidate import ExNode, Planner, Pod, budget_nodes
from ucp.builtins.cloud.packing.schema import (
    ConsolidationAction,
    ConsolidationPlan,
    ExistingNode,
    NodePlan,
    PackingPlan,
    PackInput,
    PackOutput,
    PodSpec,
)

DEFAULT_FAMILIES = ("c6i", "m6i", "r6i", "c7i", "m7i", "r7i")
EXACT_AUTO_MAX_PODS = 15
MAX_PODS = 5000

__all__ = ["TOOL", "PackInput", "PackOutput", "plan_bin_packing"]


def allocatable(args: PackInput, vcpu: float, memory_gib: float) -> tuple[float, float]:
    """What pods can request on a node: capacity minus kubelet/system reservations and DaemonSets."""
    r_cpu = (
        overhead.kubelet_reserved_cpu(vcpu) if args.reserved_cpu_cores is None else args.reserved_cpu_cores
    )
    r_mem = (
        overhead.kubelet_reserved_memory_gib(memory_gib)
        if args.reserved_memory_gib is None
        else args.reserved_memory_gib
    )
    return (
        float(vcpu) - r_cpu - args.daemonset_cpu_cores,
        float(memory_gib) - r_mem - args.daemonset_memory_gib,
    )


def _reservation_note(args: PackInput) -> str:
    if args.reserved_cpu_cores is None or args.reserved_memory_gib is None:
        ex_cpu, ex_mem = overhead.kubelet_reserved_cpu(2), overhead.kubelet_reserved_memory_gib(8)
        kube = (
            "kubelet/system reservations by the GKE/EKS formula "
            f"(e.g. a 2 vCPU / 8 GiB node keeps {ex_cpu:.2f} CPU and {ex_mem:.2f} GiB)"
        )
    else:
        kube = f"{args.reserved_cpu_cores:g} CPU and {args.reserved_memory_gib:g} GiB reserved"
    return (
        f"Allocatable = instance vCPU/memory minus {kube}, minus {args.daemonset_cpu_cores:g} CPU and "
        f"{args.daemonset_memory_gib:g} GiB of DaemonSets per node; set these for your cluster."
    )


def _types(args: PackInput, warns: list[str]) -> list[heuristics.NodeType]:
    cat = load_catalog()
    spot = args.pricing == "spot"
    if args.instance_types:
        chosen = [get_type(n, f"instance_types[{i}]") for i, n in enumerate(args.instance_types)]
        for i, it in enumerate(chosen):
            if not it.has_specs:
                raise ToolInputError(f"instance_types[{i}]", f"{it.name}: no vCPU/memory in the snapshot")
    else:
        fams = [f.lower() for f in (args.families or DEFAULT_FAMILIES)]
        known = {it.family for it in cat.values()}
        for i, f in enumerate(fams):
            if f not in known:
                raise ToolInputError(f"families[{i}]", f"unknown family {f!r}")
        chosen = [it for it in cat.values() if it.family in fams and it.has_specs and "metal" not in it.name]
    out: list[heuristics.NodeType] = []
    for it in chosen:
        price = it.est_spot_usd_hr if spot else it.od_usd_hr
        if price is None or it.vcpu is None or it.memory_gib is None:
            warns.append(f"{it.name} skipped: no {'spot' if spot else 'on-demand'} price in the snapshot.")
            continue
        cpu, mem = allocatable(args, it.vcpu, it.memory_gib)
        if cpu > 0 and mem > 0:
            out.append(heuristics.NodeType(it.name, float(cpu), float(mem), float(price)))
    if not out:
        raise ToolInputError(
            "instance_types" if args.instance_types else "families", "no usable instance type"
        )
    return sorted(out, key=lambda t: (t.price, t.name))


def _expand(pods: list[PodSpec], fld: str) -> tuple[list[str], np.ndarray, np.ndarray, list[int]]:
    names: list[str] = []
    cpu: list[float] = []
    mem: list[float] = []
    src: list[int] = []
    for i, p in enumerate(pods):
        names += [p.name] * p.count
        cpu += [p.cpu] * p.count
        mem += [p.memory_gib] * p.count
        src += [i] * p.count
        if len(names) > MAX_PODS:
            raise ToolInputError(fld, f"more than {MAX_PODS} pods after expanding counts")
    return names, np.asarray(cpu, dtype=np.float64), np.asarray(mem, dtype=np.float64), src


def _plan(nodes: list[heuristics.Node], names: list[str]) -> list[NodePlan]:
    return [
        NodePlan(
            name=f"node-{k + 1}",
            instance_type=n.type.name,
            price_usd_hr=rnd(n.type.price),
            pods=dict(Counter(names[i] for i in n.pods)),
            cpu_requested=rnd(n.cpu_used, 4),
            cpu_allocatable=n.type.cpu,
            memory_requested_gib=rnd(n.mem_used, 4),
            memory_allocatable_gib=n.type.mem,
        )
        for k, n in enumerate(nodes)
    ]


def _pack(
    args: PackInput, pods: list[PodSpec], types: list[heuristics.NodeType], warns: list[str]
) -> PackingPlan:
    names, cpu, mem, src = _expand(pods, "pods")
    big_c, big_m = max(t.cpu for t in types), max(t.mem for t in types)
    for j in range(len(names)):
        if not any(cpu[j] <= t.cpu + heuristics.EPS and mem[j] <= t.mem + heuristics.EPS for t in types):
            raise ToolInputError(
                f"pods[{src[j]}]",
                f"{names[j]} requests {cpu[j]:g} CPU / {mem[j]:g} GiB; no single "
                f"candidate type fits it (largest: {big_c:g} CPU, {big_m:g} GiB allocatable)",
            )
    lb = heuristics.lp_lower_bound(cpu, mem, types)
    ffd = heuristics.pack(cpu, mem, types, "first")
    bfd = heuristics.pack(cpu, mem, types, "best")
    best, solver = (
        (ffd, "first-fit decreasing")
        if heuristics.cost(ffd) <= heuristics.cost(bfd)
        else (bfd, "best-fit decreasing")
    )
    exact_status = None
    bound = lb.cost
    run_exact = args.exact == "always" or (args.exact == "auto" and len(names) <= EXACT_AUTO_MAX_PODS)
    if run_exact:
        res = exact.solve(cpu, mem, types, heuristics.cost(best), args.time_limit_s)
        exact_status = res.status
        if res.dual_bound is not None:
            bound = max(bound, res.dual_bound)
        if res.nodes is not None and heuristics.cost(res.nodes) < heuristics.cost(best) - 1e-9:
            best, solver = res.nodes, f"MILP (HiGHS, {res.status})"
        elif res.status == "optimal":
            solver += " (MILP confirms optimal)"
        if res.status == "optimal":
            bound = heuristics.cost(best)
        if res.status == "too large":
            warns.append("Too many pods x slots for the exact solver; heuristic result only.")
    total = heuristics.cost(best)
    bound = min(bound, total)
    return PackingPlan(
        solver=solver,
        exact_status=exact_status,
        nodes=_plan(best, names),
        nodes_by_type=dict(Counter(n.type.name for n in best)),
        total_usd_hr=rnd(total),
        total_usd_month=rnd(total * HOURS_PER_MONTH, 2),
        lower_bound_usd_hr=rnd(bound),
        gap_pct=rnd(max(0.0, 100 * (total - bound) / bound), 3) if bound > 0 else 0.0,
        first_fit_usd_hr=rnd(heuristics.cost(ffd)),
        best_fit_usd_hr=rnd(heuristics.cost(bfd)),
        cpu_utilisation_pct=rnd(100 * float(cpu.sum()) / sum(n.type.cpu for n in best), 2) if best else 0.0,
        memory_utilisation_pct=rnd(100 * float(mem.sum()) / sum(n.type.mem for n in best), 2)
        if best
        else 0.0,
    )


def _consolidate(
    args: PackInput, existing: list[ExistingNode], types: list[heuristics.NodeType]
) -> ConsolidationPlan:
    spot_price = {t.name: p for t in types if (p := load_catalog()[t.name].est_spot_usd_hr) is not None}
    nodes: list[ExNode] = []
    for j, en in enumerate(existing):
        it = get_type(en.instance_type, f"existing_nodes[{j}].instance_type")
        price = it.est_spot_usd_hr if en.capacity_type == "spot" else it.od_usd_hr
        if price is None or it.vcpu is None or it.memory_gib is None:
            raise ToolInputError(
                f"existing_nodes[{j}].instance_type", f"{it.name}: no {en.capacity_type} price/specs"
            )
        nt = heuristics.NodeType(it.name, *allocatable(args, it.vcpu, it.memory_gib), price)
        pods = [
            Pod(f"{p.name}#{k}" if p.count > 1 else p.name, p.cpu, p.memory_gib, p.do_not_disrupt, p.pdb)
            for p in en.pods
            for k in range(p.count)
        ]
        node = ExNode(en.name, nt, en.capacity_type, price, pods)
        if node.cpu_free < -heuristics.EPS or node.mem_free < -heuristics.EPS:
            raise ToolInputError(
                f"existing_nodes[{j}].pods", f"requests exceed {en.name}'s allocatable capacity"
            )
        nodes.append(node)
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ToolInputError("existing_nodes", "node names must be unique")
    budget = budget_nodes(args.disruption_budget, len(nodes))
    pdb_left = {p.name: p.max_unavailable for p in args.pdbs}
    planner = Planner(nodes, types, spot_price, budget, pdb_left)
    planner.run()
    before = sum(n.price for n in nodes)
    after = sum(n.price for n in planner.alive)
    return ConsolidationPlan(
        actions=[
            ConsolidationAction(
                step=a.step,
                action=a.kind,
                nodes=list(a.nodes),
                replacement_type=a.replacement,
                replacement_capacity_type=a.replacement_capacity_type,
                saving_usd_hr=rnd(a.saving),
                pods_moved=a.pods_moved,
            )
            for a in planner.actions
        ],
        kept=dict(sorted(planner.blocked.items())),
        node_budget=budget,
        cost_before_usd_hr=rnd(before),
        cost_after_usd_hr=rnd(after),
        saving_usd_month=rnd((before - after) * HOURS_PER_MONTH, 2),
    )


def plan_bin_packing(args: PackInput) -> PackOutput:
    if not args.pods and not args.existing_nodes:
        raise ToolInputError("pods", "give pods to pack and/or existing_nodes to consolidate")
    warns = staleness_warnings(use_spot=args.pricing == "spot")
    types = _types(args, warns)
    packing_plan = _pack(args, args.pods, types, warns) if args.pods else None
    cons = _consolidate(args, args.existing_nodes, types) if args.existing_nodes else None
    return PackOutput(
        method=Method(
            name="cost-aware first/best-fit decreasing + MILP for small inputs; Karpenter-order consolidation",
            reference="bin packing with LP lower bound; scipy milp (HiGHS); Karpenter consolidation",
            parameters={
                "types": len(types),
                "pricing": args.pricing,
                "exact": args.exact,
                "reserved_cpu_cores": "GKE/EKS formula"
                if args.reserved_cpu_cores is None
                else args.reserved_cpu_cores,
                "reserved_memory_gib": "GKE/EKS formula + 100 MiB eviction"
                if args.reserved_memory_gib is None
                else args.reserved_memory_gib,
                "daemonset_cpu_cores": args.daemonset_cpu_cores,
                "daemonset_memory_gib": args.daemonset_memory_gib,
                "disruption_budget": args.disruption_budget,
                "families": sorted({t.name.split(".")[0] for t in types}),
            },
        ),
        data_sources=catalog_sources(use_spot=args.pricing == "spot" or bool(args.existing_nodes)),
        assumptions=[
            _reservation_note(args),
            "Only CPU and memory requests are packed (no GPUs, pod limits, affinities or max-pods).",
            "Lower bound: LP relaxation (fractional nodes), raised by the MILP's dual bound when it ran.",
        ],
        warnings=dedupe(warns),
        confidence="the gap to the lower bound bounds how far from optimal the plan can be",
        packing=packing_plan,
        consolidation=cons,
    )


TOOL = BuiltinTool(
    name="plan_bin_packing",
    title="Pack pods onto the cheapest nodes",
    description=(
        "Place pods (CPU/memory requests) onto a cost-optimal mix of EC2 types: cost-aware first/best-fit decreasing, "
        "an exact MILP (HiGHS) for small inputs, and the gap to an LP lower bound; for existing nodes, consolidation "
        "suggestions in Karpenter's order (empty, multi-node, single-node) respecting disruption budgets and PDBs."
    ),
    input_model=PackInput,
    output_model=PackOutput,
    handler=plan_bin_packing,
    tags=("cloud", "kubernetes", "bin-packing", "karpenter", "finops"),
)
