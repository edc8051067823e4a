"""Input and output models of ``plan_bin_packing``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ucp.builtins.cloud.common.envelope import Envelope, OutputModel, StrictInput


class PodSpec(StrictInput):
    name: str = Field(min_length=1)
    cpu: float = Field(ge=0, description="CPU request, cores.")
    memory_gib: float = Field(ge=0, description="Memory request, GiB.")
    count: int = Field(default=1, ge=1, le=5000, description="Replicas with these requests.")
    do_not_disrupt: bool = Field(default=False, description="karpenter.sh/do-not-disrupt.")
    pdb: str | None = Field(default=None, description="Name of the PodDisruptionBudget covering it.")


class ExistingNode(StrictInput):
    name: str = Field(min_length=1)
    instance_type: str
    capacity_type: Literal["on-demand", "spot"] = "on-demand"
    pods: list[PodSpec] = Field(default_factory=list)


class Pdb(StrictInput):
    name: str
    max_unavailable: int = Field(ge=0, description="Evictions it allows now.")


class PackInput(StrictInput):
    pods: list[PodSpec] | None = Field(default=None, description="Pods to pack from scratch.")
    instance_types: list[str] | None = Field(default=None, description="Candidate types; default: families.")
    families: list[str] | None = Field(
        default=None, description="Default c6i,m6i,r6i,c7i,m7i,r7i (no metal)."
    )
    pricing: Literal["on-demand", "spot"] = "on-demand"
    reserved_cpu_cores: float | None = Field(
        default=None,
        ge=0,
        description="Per-node CPU kept by kubelet/system; default: the GKE/EKS kube-reserved formula by node size.",
    )
    reserved_memory_gib: float | None = Field(
        default=None,
        ge=0,
        description="Per-node memory kept; default: the GKE/EKS formula + 100 MiB eviction.",
    )
    daemonset_cpu_cores: float = Field(
        default=0.1, ge=0, description="CPU requested by DaemonSets on every node (kube-proxy, CNI, agents)."
    )
    daemonset_memory_gib: float = Field(default=0.25, ge=0)
    exact: Literal["auto", "always", "never"] = Field(
        default="auto", description="auto: MILP when <= 15 pods."
    )
    time_limit_s: float = Field(default=5, gt=0, le=120, description="MILP time limit.")
    existing_nodes: list[ExistingNode] | None = Field(default=None, description="Nodes to consolidate.")
    disruption_budget: str = Field(
        default="10%", pattern=r"^\d+%?$", description="Karpenter budget: '10%' or '3'."
    )
    pdbs: list[Pdb] = Field(default_factory=list)


class NodePlan(OutputModel):
    name: str
    instance_type: str
    price_usd_hr: float
    pods: dict[str, int] = Field(description="Pod name -> replicas on this node.")
    cpu_requested: float
    cpu_allocatable: float
    memory_requested_gib: float
    memory_allocatable_gib: float


class PackingPlan(OutputModel):
    solver: str
    exact_status: str | None
    nodes: list[NodePlan]
    nodes_by_type: dict[str, int]
    total_usd_hr: float
    total_usd_month: float
    lower_bound_usd_hr: float
    gap_pct: float = Field(description="(total - lower bound) / lower bound, %.")
    first_fit_usd_hr: float
    best_fit_usd_hr: float
    cpu_utilisation_pct: float
    memory_utilisation_pct: float


class ConsolidationAction(OutputModel):
    step: Literal["empty", "multi-node", "single-node"]
    action: Literal["delete", "replace"]
    nodes: list[str]
    replacement_type: str | None
    replacement_capacity_type: str | None
    saving_usd_hr: float
    pods_moved: int


class ConsolidationPlan(OutputModel):
    actions: list[ConsolidationAction] = Field(description="In the order Karpenter would take them.")
    kept: dict[str, str] = Field(description="Node -> why it is not disrupted.")
    node_budget: int
    cost_before_usd_hr: float
    cost_after_usd_hr: float
    saving_usd_month: float


class PackOutput(Envelope):
    packing: PackingPlan | None
    consolidation: ConsolidationPlan | None
