"""CloudWatch adapter (boto3, via its default credential chain). Extra: ``ucp[cloud-aws]``.

Returns the inline series form; CloudWatch's unordered datapoints are sorted by time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ucp.builtins.cloud.adapters import AdapterError, import_client, require_enabled

EXTRA = "cloud-aws"


def datapoints_to_points(resp: dict[str, Any], stat: str) -> list[dict[str, Any]]:
    """``GetMetricStatistics`` answer -> ``[{"timestamp", "value"}]`` sorted by time."""
    out = []
    for dp in resp.get("Datapoints", []):
        if stat not in dp:
            raise AdapterError(f"datapoint without statistic {stat!r}")
        ts = dp["Timestamp"]
        ts = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        out.append({"timestamp": ts.isoformat(), "value": float(dp[stat])})
    return sorted(out, key=lambda p: p["timestamp"])


def get_metric_series(
    instance_id: str,
    start: datetime,
    end: datetime,
    metric: str = "CPUUtilization",
    namespace: str = "AWS/EC2",
    period_s: int = 300,
    stat: str = "Maximum",
    region: str | None = None,
    enabled: bool | None = None,
) -> list[dict[str, Any]]:
    """One instance's metric; ``Maximum`` per 5 minutes matches Compute Optimizer's input."""
    require_enabled("cloudwatch", enabled)
    boto3 = import_client("boto3", EXTRA)
    client = boto3.client("cloudwatch", region_name=region)
    resp = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
        StartTime=start,
        EndTime=end,
        Period=period_s,
        Statistics=[stat],
    )
    return datapoints_to_points(resp, stat)
