"""Consolidation of an existing node set, in Karpenter's order (pure).

Karpenter disrupts in this order: empty nodes are deleted; then several nodes at once
are deleted or replaced by one cheaper node; then single nodes are deleted (their pods
fit on the rest) or replaced by one cheaper node. Nodes holding a ``do-not-disrupt`` pod
are never candidates, pod disruption budgets cap how many pods of a budget may be
evicted, and the node disruption budget (default 10%, rounded up) caps how many nodes
change. A spot-to-spot replacement needs at least 15 cheaper types that fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ucp.builtins.cloud.packing.heuristics import EPS, NodeType

SPOT_TO_SPOT_MIN_TYPES = 15
MAX_MULTI = 100


@dataclass(frozen=True)
class Pod:
    name: str
    cpu: float
    mem: float
    do_not_disrupt: bool = False
    pdb: str | None = None


@dataclass
class ExNode:
    name: str
    type: NodeType
    capacity_type: str  # "on-demand" | "spot"
    price: float
    pods: list[Pod] = field(default_factory=list)

    @property
    def cpu_free(self) -> float:
        return self.type.cpu - sum(p.cpu for p in self.pods)

    @property
    def mem_free(self) -> float:
        return self.type.mem - sum(p.mem for p in self.pods)


@dataclass(frozen=True)
class Action:
    step: str  # "empty" | "multi-node" | "single-node"
    kind: str  # "delete" | "replace"
    nodes: tuple[str, ...]
    replacement: str | None
    replacement_capacity_type: str | None
    saving: float
    pods_moved: int


def budget_nodes(spec: str, total: int) -> int:
    """Karpenter's node budget: an integer, or a percentage of nodes rounded up."""
    s = spec.strip()
    if s.endswith("%"):
        return math.ceil(float(s[:-1]) / 100 * total - 1e-9)
    return int(s)


def _place(pods: list[Pod], hosts: list[ExNode]) -> tuple[dict[str, list[Pod]], list[Pod]]:
    """First-fit decreasing onto the hosts' free capacity; returns (assignment, leftover)."""
    free = {h.name: [h.cpu_free, h.mem_free] for h in hosts}
    big_c = max((h.type.cpu for h in hosts), default=1.0) or 1.0
    big_m = max((h.type.mem for h in hosts), default=1.0) or 1.0
    placed: dict[str, list[Pod]] = {}
    left: list[Pod] = []
    for p in sorted(pods, key=lambda p: (-max(p.cpu / big_c, p.mem / big_m), p.name)):
        host = next(
            (h for h in hosts if free[h.name][0] + EPS >= p.cpu and free[h.name][1] + EPS >= p.mem), None
        )
        if host is None:
            left.append(p)
            continue
        free[host.name][0] -= p.cpu
        free[host.name][1] -= p.mem
        placed.setdefault(host.name, []).append(p)
    return placed, left


class Planner:
    def __init__(
        self,
        nodes: list[ExNode],
        types: list[NodeType],
        spot_price: dict[str, float],
        budget: int,
        pdb_left: dict[str, int],
    ) -> None:
        self.alive = list(nodes)
        self.types = types
        self.spot_price = spot_price
        self.budget = budget
        self.pdb_left = dict(pdb_left)
        self.actions: list[Action] = []
        self.blocked: dict[str, str] = {}
        self._new = 0
        self.created: set[str] = set()

    def _pdb_ok(self, pods: list[Pod]) -> bool:
        need: dict[str, int] = {}
        for p in pods:
            if p.pdb is not None:
                need[p.pdb] = need.get(p.pdb, 0) + 1
        return all(self.pdb_left.get(k, 0) >= v for k, v in need.items())

    def _candidates(self) -> list[ExNode]:
        out = []
        for n in self.alive:
            if n.name in self.created:
                continue
            if any(p.do_not_disrupt for p in n.pods):
                self.blocked[n.name] = "holds a do-not-disrupt pod"
            elif not self._pdb_ok(n.pods):
                self.blocked[n.name] = "a pod disruption budget allows no more evictions"
            else:
                out.append(n)
        return sorted(out, key=lambda n: (len(n.pods), -n.price, n.name))

    def _replacement(self, pods: list[Pod], cap_type: str, limit: float) -> tuple[NodeType, float] | None:
        c, m = sum(p.cpu for p in pods), sum(p.mem for p in pods)
        opts = []
        for t in self.types:
            price = self.spot_price.get(t.name) if cap_type == "spot" else t.price
            if price is not None and t.cpu + EPS >= c and t.mem + EPS >= m and price < limit - EPS:
                opts.append((price, t.name, t))
        if not opts or (cap_type == "spot" and len(opts) < SPOT_TO_SPOT_MIN_TYPES):
            return None
        price, _, t = min(opts)
        return t, price

    def _try(self, group: list[ExNode], step: str) -> bool:
        pods = [p for n in group for p in n.pods]
        if not self._pdb_ok(pods):
            return False
        names = {n.name for n in group}
        hosts = [n for n in self.alive if n.name not in names]
        placed, left = _place(pods, hosts)
        old = sum(n.price for n in group)
        rep = None
        cap = "spot" if all(n.capacity_type == "spot" for n in group) else "on-demand"
        if left:
            rep = self._replacement(left, cap, old)
            if rep is None:
                return False
        for h in hosts:
            h.pods.extend(placed.get(h.name, []))
        self.alive = [n for n in self.alive if n.name not in names]
        if rep is not None:
            self._new += 1
            self.alive.append(ExNode(f"new-{self._new}", rep[0], cap, rep[1], list(left)))
            self.created.add(f"new-{self._new}")
        for p in pods:
            if p.pdb is not None:
                self.pdb_left[p.pdb] -= 1
        self.budget -= len(group)
        self.actions.append(
            Action(
                step,
                "replace" if rep else "delete",
                tuple(sorted(names)),
                rep[0].name if rep else None,
                cap if rep else None,
                old - (rep[1] if rep else 0.0),
                len(pods),
            )
        )
        return True

    def run(self) -> None:
        for n in sorted((n for n in self.alive if not n.pods), key=lambda n: n.name):
            if self.budget <= 0:
                self.blocked.setdefault(n.name, "node disruption budget exhausted")
                continue
            self._try([n], "empty")
        cands = [n for n in self._candidates() if n.pods]
        for k in range(min(len(cands), self.budget, MAX_MULTI), 1, -1):
            if self._try(cands[:k], "multi-node"):
                break
        for n in [n for n in self._candidates() if n.pods]:
            if n not in self.alive:
                continue
            if self.budget <= 0:
                self.blocked.setdefault(n.name, "node disruption budget exhausted")
                continue
            if not self._try([n], "single-node"):
                self.blocked.setdefault(
                    n.name, "no cheaper placement: its pods fit neither elsewhere nor on one cheaper type"
                )
