"""Exact bin packing with cost for small inputs: a MILP solved by HiGHS via ``scipy.optimize.milp``.

Slots are candidate nodes (type t gets at most floor(UB / price_t) slots, where UB is the
heuristic's cost: more nodes of t than that cost more than the heuristic). Binary x[i,k]
puts pod i on slot k, binary y[k] opens slot k; each pod goes to exactly one slot; CPU
and memory on a slot stay within its capacity when open; y[k] >= y[k+1] within a type
breaks symmetry.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ucp.builtins.cloud.packing.heuristics import EPS, Node, NodeType

MAX_VARIABLES = 6000


@dataclass(frozen=True)
class ExactResult:
    nodes: list[Node] | None
    status: str  # "optimal", "time limit", "infeasible", "too large", "error"
    dual_bound: float | None
    seconds: float


def undominated(types: list[NodeType]) -> list[NodeType]:
    """Drop a type when another has at least its CPU and memory for at most its price
    (an optimal plan never needs the dominated one: swap it for the dominating type)."""
    keep = []
    for t in types:
        if not any(
            (o.cpu >= t.cpu and o.mem >= t.mem and o.price <= t.price)
            and (o.cpu, o.mem, -o.price, o.name) != (t.cpu, t.mem, -t.price, t.name)
            and (o.cpu > t.cpu or o.mem > t.mem or o.price < t.price or o.name < t.name)
            for o in types
        ):
            keep.append(t)
    return keep


def _slots(types: list[NodeType], n: int, upper: float) -> list[NodeType]:
    out: list[NodeType] = []
    for t in undominated(types):
        k = n if t.price <= 0 else min(n, math.floor(upper / t.price + EPS))
        out += [t] * k
    return out


def solve(
    cpu: np.ndarray, mem: np.ndarray, types: list[NodeType], upper: float, time_limit: float
) -> ExactResult:
    start = time.perf_counter()
    n = int(cpu.size)
    slots = _slots(types, n, upper)
    pairs = [
        (i, k)
        for k, t in enumerate(slots)
        for i in range(n)
        if cpu[i] <= t.cpu + EPS and mem[i] <= t.mem + EPS
    ]
    nx, ny = len(pairs), len(slots)
    if nx + ny > MAX_VARIABLES:
        return ExactResult(None, "too large", None, time.perf_counter() - start)
    if ny == 0:
        return ExactResult(None, "infeasible", None, time.perf_counter() - start)
    c = np.concatenate([np.zeros(nx), [t.price for t in slots]])
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lo: list[float] = []
    hi: list[float] = []
    r = 0
    by_pod: dict[int, list[int]] = {}
    by_slot: dict[int, list[int]] = {}
    for v, (i, k) in enumerate(pairs):
        by_pod.setdefault(i, []).append(v)
        by_slot.setdefault(k, []).append(v)
    for i in range(n):  # each pod exactly once
        for v in by_pod.get(i, []):
            rows.append(r)
            cols.append(v)
            vals.append(1.0)
        lo.append(1.0)
        hi.append(1.0)
        r += 1
    for k, t in enumerate(slots):  # capacity when open
        for dim, cap in ((cpu, t.cpu), (mem, t.mem)):
            for v in by_slot.get(k, []):
                rows.append(r)
                cols.append(v)
                vals.append(float(dim[pairs[v][0]]))
            rows.append(r)
            cols.append(nx + k)
            vals.append(-cap)
            lo.append(-np.inf)
            hi.append(0.0)
            r += 1
    for dim in (cpu, mem):  # valid cut: open capacity covers total demand
        for k, t in enumerate(slots):
            rows.append(r)
            cols.append(nx + k)
            vals.append(t.cpu if dim is cpu else t.mem)
        lo.append(float(dim.sum()) - 1e-7)
        hi.append(np.inf)
        r += 1
    for k in range(ny - 1):  # symmetry: open same-type slots in order
        if slots[k] == slots[k + 1]:
            rows += [r, r]
            cols += [nx + k, nx + k + 1]
            vals += [1.0, -1.0]
            lo.append(0.0)
            hi.append(np.inf)
            r += 1
    from scipy.optimize import Bounds, LinearConstraint, milp  # lazy (cold start)
    from scipy.sparse import coo_matrix

    a = coo_matrix((vals, (rows, cols)), shape=(r, nx + ny)).tocsr()
    res = milp(
        c,
        integrality=np.ones(nx + ny),
        bounds=Bounds(0, 1),
        constraints=LinearConstraint(a, lo, hi),
        options={"time_limit": time_limit, "disp": False},
    )
    secs = time.perf_counter() - start
    dual = getattr(res, "mip_dual_bound", None)
    dual_f = float(dual) if dual is not None and np.isfinite(dual) else None
    if res.x is None:
        return ExactResult(None, "time limit" if res.status == 1 else "infeasible", dual_f, secs)
    x = np.round(res.x).astype(int)
    nodes: dict[int, Node] = {}
    for v, (i, k) in enumerate(pairs):
        if x[v]:
            node = nodes.setdefault(k, Node(slots[k]))
            node.add(i, float(cpu[i]), float(mem[i]))
    status = "optimal" if res.status == 0 else "time limit"
    return ExactResult([nodes[k] for k in sorted(nodes)], status, dual_f, secs)
