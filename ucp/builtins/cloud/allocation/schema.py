"""Input and output models of ``allocate_costs``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ucp.builtins.cloud.common.envelope import Envelope, OutputModel, StrictInput, rnd


class AllocNode(StrictInput):
    name: str = Field(min_length=1)
    instance_type: str | None = Field(default=None, description="Fills price/capacity from the catalog.")
    hourly_cost_usd: float | None = Field(default=None, ge=0, description="Overrides the catalog price.")
    cpu_cores: float | None = Field(default=None, gt=0)
    memory_gib: float | None = Field(default=None, gt=0)
    gpus: int = Field(default=0, ge=0)
    hours: float | None = Field(default=None, gt=0, description="Hours it ran in the window; default all.")


class Workload(StrictInput):
    name: str = Field(min_length=1)
    node: str
    labels: dict[str, str] = Field(default_factory=dict, description="e.g. {'team': 'payments'}.")
    cpu_request: float = Field(default=0, ge=0, description="Cores.")
    cpu_usage: float = Field(default=0, ge=0, description="Average cores used.")
    memory_request_gib: float = Field(default=0, ge=0)
    memory_usage_gib: float = Field(default=0, ge=0)
    gpu_request: int = Field(default=0, ge=0)
    hours: float | None = Field(default=None, ge=0, description="Running hours; default the node's.")
    shared: bool = Field(default=False, description="Its cost joins the shared pool (e.g. kube-system).")


class SharedCost(StrictInput):
    name: str
    cost_usd: float = Field(ge=0)


class AllocateInput(StrictInput):
    window_hours: float = Field(default=24, gt=0, le=24 * 366)
    nodes: list[AllocNode] = Field(min_length=1)
    workloads: list[Workload] = Field(default_factory=list)
    aggregate_by: str = Field(
        default="workload", description="'workload', 'node' or a label key such as 'team'."
    )
    shared_costs: list[SharedCost] = Field(
        default_factory=list, description="Costs outside the nodes, in USD."
    )
    shared_split: Literal["even", "by_usage", "weighted"] = "even"
    weights: dict[str, float] | None = Field(
        default=None, description="Allocation name -> weight, for 'weighted'."
    )
    idle: Literal["separate", "share"] = Field(
        default="separate", description="'share' spreads idle by cost."
    )


class NodeRates(OutputModel):
    node: str
    hours: float
    cost_usd: float
    cpu_cores: float
    memory_gib: float
    gpus: int
    cpu_usd_per_core_hr: float
    ram_usd_per_gib_hr: float
    gpu_usd_per_gpu_hr: float

    def rounded(self) -> NodeRates:
        return self.model_copy(
            update={
                "cost_usd": rnd(self.cost_usd),
                "cpu_usd_per_core_hr": rnd(self.cpu_usd_per_core_hr, 8),
                "ram_usd_per_gib_hr": rnd(self.ram_usd_per_gib_hr, 8),
                "gpu_usd_per_gpu_hr": rnd(self.gpu_usd_per_gpu_hr, 8),
            }
        )


class Allocation(OutputModel):
    name: str
    workloads: int
    cpu_cost: float
    ram_cost: float
    gpu_cost: float
    shared_cost: float
    idle_cost: float
    total_cost: float
    cpu_efficiency: float | None = Field(description="CPU usage / CPU charged (max of request and usage).")


class IdleCost(OutputModel):
    cpu_cost: float
    ram_cost: float
    gpu_cost: float
    total_cost: float


class AllocateOutput(Envelope):
    window_hours: float
    total_cost: float = Field(description="Node costs + shared costs, USD.")
    allocations: list[Allocation]
    idle: IdleCost
    allocated_plus_idle: float = Field(description="Equals total_cost.")
    node_rates: list[NodeRates]
