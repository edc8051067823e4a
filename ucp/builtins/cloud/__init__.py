"""Built-in cloud-optimisation tools, served as the in-process downstream ``cloud``.

Each tool is a pure, synchronous function from a pydantic input model to an output
model that states its method, data sources (with dates and licences), assumptions and
warnings. Exposed names are ``cloud__<tool>``. Only ``apply_schedule`` is not read-only.
"""

from __future__ import annotations

from ucp.builtins.base import BuiltinServer
from ucp.builtins.cloud import (
    allocate,
    anomalies,
    apply,
    binpack,
    containers,
    forecast,
    prices,
    rightsize,
    schedule,
    spot,
)

SERVER = BuiltinServer(
    name="cloud",
    description="Cloud cost and capacity optimisation: prices, rightsizing, forecasting, anomalies, spot, "
    "bin packing, cost allocation and off-hours schedules, computed from shipped public data or your inputs.",
    tools=(
        prices.TOOL,
        rightsize.TOOL,
        containers.TOOL,
        forecast.TOOL,
        anomalies.TOOL,
        spot.TOOL,
        binpack.TOOL,
        allocate.TOOL,
        schedule.TOOL,
        apply.TOOL,
    ),
    instructions=(
        "Every answer carries method, data_sources (with dates and licences), assumptions and warnings: quote them. "
        "Prices are us-east-1 snapshots, not live. apply_schedule is a dry run unless confirm is true."
    ),
)

__all__ = ["SERVER"]
