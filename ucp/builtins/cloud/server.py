"""The ``cloud`` built-in server: the ten cloud tools as one ``BuiltinServer``.

The gateway loads it by the spec string ``"ucp.builtins.cloud.server:SERVER"`` at the first
call (the listing comes from the generated ``tools.json``), so importing the tools' code stays
off the cold-start path.

Each tool is a pure, synchronous function from a pydantic input model to an output
model that states its method, data sources (with dates and licences), assumptions and
warnings. Exposed names are ``cloud__<tool>``. Only ``apply_schedule`` is not read-only.
"""

from __future__ import annotations

from ucp.builtins.base import BuiltinServer
from ucp.builtins.cloud.allocation import allocate_costs
from ucp.builtins.cloud.anomalies import detect_anomalies
from ucp.builtins.cloud.containers import recommend_container_resources
from ucp.builtins.cloud.forecasting import forecast_usage
from ucp.builtins.cloud.packing import plan_bin_packing
from ucp.builtins.cloud.pricing import lookup_instance_prices
from ucp.builtins.cloud.rightsizing import rightsize_vm
from ucp.builtins.cloud.schedules import apply_schedule, plan_schedule
from ucp.builtins.cloud.spot import recommend_spot

SERVER = BuiltinServer(
    name="cloud",
    description="Cloud cost and capacity optimisation: prices, rightsizing, forecasting, anomalies, spot, "
    "bin packing, cost allocation and off-hours schedules, computed from shipped public data or your inputs.",
    tools=(
        lookup_instance_prices.TOOL,
        rightsize_vm.TOOL,
        recommend_container_resources.TOOL,
        forecast_usage.TOOL,
        detect_anomalies.TOOL,
        recommend_spot.TOOL,
        plan_bin_packing.TOOL,
        allocate_costs.TOOL,
        plan_schedule.TOOL,
        apply_schedule.TOOL,
    ),
    instructions=(
        "Every answer carries method, data_sources (with dates and licences), assumptions and warnings: quote them. "
        "Prices are us-east-1 snapshots, not live. apply_schedule is a dry run unless confirm is true."
    ),
)

__all__ = ["SERVER"]
