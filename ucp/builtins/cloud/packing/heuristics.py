"""Bin-packing core (pure): cost-aware first/best-fit decreasing and the LP lower bound.

Pods are 2-D items (CPU, memory); node types are bins with a price. A new node's type
is chosen by LP shadow prices: the dual of the fluid lower bound prices a vCPU and a
GiB, and the type whose greedy fill packs the most priced demand per dollar wins.
Every placement checks both dimensions, so a node is never over-committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EPS = 1e-9
LOOKAHEAD = 300


@dataclass(frozen=True)
class NodeType:
    name: str
    cpu: float
    mem: float
    price: float


@dataclass
class Node:
    type: NodeType
    pods: list[int] = field(default_factory=list)
    cpu_used: float = 0.0
    mem_used: float = 0.0

    def fits(self, cpu: float, mem: float) -> bool:
        return self.cpu_used + cpu <= self.type.cpu + EPS and self.mem_used + mem <= self.type.mem + EPS

    def add(self, i: int, cpu: float, mem: float) -> None:
        self.pods.append(i)
        self.cpu_used += cpu
        self.mem_used += mem


@dataclass(frozen=True)
class LowerBound:
    cost: float
    cpu_price: float  # shadow price per vCPU-hour
    mem_price: float  # shadow price per GiB-hour


def lp_lower_bound(cpu: np.ndarray, mem: np.ndarray, types: list[NodeType]) -> LowerBound:
    """min sum(price_t x_t) s.t. capacity covers total demand, x >= 0 (fractional nodes)."""
    need_c, need_m = float(cpu.sum()), float(mem.sum())
    if need_c <= 0 and need_m <= 0:
        return LowerBound(0.0, 0.0, 0.0)
    c = np.array([t.price for t in types])
    a_ub = -np.array([[t.cpu for t in types], [t.mem for t in types]])
    from scipy.optimize import linprog  # lazy: keeps `import ucp.builtins.cloud` fast (cold start)

    res = linprog(c, A_ub=a_ub, b_ub=[-need_c, -need_m], bounds=(0, None), method="highs")
    if res.status != 0:
        raise ArithmeticError(f"lower-bound LP failed: {res.message}")
    duals = -np.asarray(res.ineqlin.marginals)
    return LowerBound(float(res.fun), max(float(duals[0]), 0.0), max(float(duals[1]), 0.0))


def order_decreasing(cpu: np.ndarray, mem: np.ndarray, types: list[NodeType]) -> np.ndarray:
    """Pods by decreasing dominant share of the largest type's capacity."""
    max_c = max(t.cpu for t in types)
    max_m = max(t.mem for t in types)
    key = np.maximum(cpu / max_c, mem / max_m)
    return np.lexsort((np.arange(cpu.size), -key))


def _value(cpu: float, mem: float, lb: LowerBound, fallback: tuple[float, float]) -> float:
    v = lb.cpu_price * cpu + lb.mem_price * mem
    return v if v > 0 else fallback[0] * cpu + fallback[1] * mem


def choose_type(
    first: int,
    rest: list[int],
    cpu: np.ndarray,
    mem: np.ndarray,
    types: list[NodeType],
    lb: LowerBound,
    fallback: tuple[float, float],
) -> NodeType:
    """The type that packs the most shadow-priced demand per dollar when greedily filled."""
    best: tuple[float, float, str] | None = None
    best_t = types[0]
    for t in types:
        if cpu[first] > t.cpu + EPS or mem[first] > t.mem + EPS:
            continue
        cu, mu = cpu[first], mem[first]
        val = _value(cu, mu, lb, fallback)
        for j in rest[:LOOKAHEAD]:
            if cu + cpu[j] <= t.cpu + EPS and mu + mem[j] <= t.mem + EPS:
                cu += cpu[j]
                mu += mem[j]
                val += _value(cpu[j], mem[j], lb, fallback)
        key = (-(val / t.price) if t.price > 0 else -np.inf, t.price, t.name)
        if best is None or key < best:
            best, best_t = key, t
    return best_t


def pack(cpu: np.ndarray, mem: np.ndarray, types: list[NodeType], rule: str = "first") -> list[Node]:
    """First-fit ("first") or best-fit ("best") decreasing with cost-aware new-node types,
    then each node is downsized to the cheapest type that holds its pods."""
    lb = lp_lower_bound(cpu, mem, types)
    avg_c = float(np.median([t.price / t.cpu for t in types])) / 2
    avg_m = float(np.median([t.price / t.mem for t in types])) / 2
    order = [int(i) for i in order_decreasing(cpu, mem, types)]
    nodes: list[Node] = []
    for pos, i in enumerate(order):
        target: Node | None = None
        if rule == "best":
            slack = [
                (
                    max(n.type.cpu - n.cpu_used - cpu[i], 0) / n.type.cpu
                    + max(n.type.mem - n.mem_used - mem[i], 0) / n.type.mem,
                    k,
                )
                for k, n in enumerate(nodes)
                if n.fits(cpu[i], mem[i])
            ]
            target = nodes[min(slack)[1]] if slack else None
        else:
            target = next((n for n in nodes if n.fits(cpu[i], mem[i])), None)
        if target is None:
            t = choose_type(i, order[pos + 1 :], cpu, mem, types, lb, (avg_c, avg_m))
            target = Node(t)
            nodes.append(target)
        target.add(i, float(cpu[i]), float(mem[i]))
    if not nodes and types:
        nodes.append(Node(min(types, key=lambda t: (t.price, t.name))))
    return [downsize(n, types) for n in nodes]


def downsize(node: Node, types: list[NodeType]) -> Node:
    fits = [t for t in types if node.cpu_used <= t.cpu + EPS and node.mem_used <= t.mem + EPS]
    best = min(fits, key=lambda t: (t.price, t.name))
    if best.price < node.type.price:
        return Node(best, list(node.pods), node.cpu_used, node.mem_used)
    return node


def cost(nodes: list[Node]) -> float:
    return float(sum(n.type.price for n in nodes))
