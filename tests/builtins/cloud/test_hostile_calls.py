"""Hostile calls (issue 14): each ends in a clear, structured answer within the timeout, and
leaves no work running afterwards. Calls go through the real adapter (``run_tool`` and the
``BuiltinSession`` with its timeout), in memory."""

from __future__ import annotations

import gzip
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ucp.builtins.cloud.allocation.allocate_costs import TOOL as ALLOCATE
from ucp.builtins.cloud.anomalies.detect_anomalies import TOOL as ANOMALIES
from ucp.builtins.cloud.schedules.plan_schedule import TOOL as SCHEDULE
from ucp.builtins.cloud.server import SERVER
from ucp.downstream.builtin import BuiltinTransport, run_tool

NODE = {"name": "n1", "hourly_cost_usd": 1.0, "cpu_cores": 4, "memory_gib": 16}


def _error(result: Any) -> dict[str, Any]:
    assert result.is_error, result.content[0].text
    meta: dict[str, Any] = (result.meta or {})["ucp/error"]
    return meta


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        (ALLOCATE, {"nodes": [{**NODE, "hourly_cost_usd": 1e308}]}, "nodes[0].hourly_cost_usd"),
        (
            ALLOCATE,
            {
                "nodes": [NODE],
                "shared_costs": [{"name": "a", "cost_usd": 1e308}, {"name": "b", "cost_usd": 1e308}],
            },
            "shared_costs[0].cost_usd",
        ),
        (ALLOCATE, {"nodes": [NODE], "window_hours": 24, "weights": {"a": 1e300}}, "weights"),
        (SCHEDULE, {"tag": "off=(M-F,19);on=(M-F,7);tz=pt", "hourly_cost_usd": 1e308}, "hourly_cost_usd"),
    ],
)
def test_huge_prices_are_refused_at_the_schema_boundary(tool: Any, args: dict[str, Any], field: str) -> None:
    started = time.monotonic()
    meta = _error(run_tool(tool, args))
    assert meta["code"] == "invalid_input" and meta["field"] == field
    assert "1e+15" in meta["problem"]
    assert time.monotonic() - started < 2


def test_largest_accepted_prices_still_add_up() -> None:
    args = {
        "window_hours": 24 * 366,
        "nodes": [{**NODE, "hourly_cost_usd": 1e15}],
        "shared_costs": [{"name": f"s{i}", "cost_usd": 1e15} for i in range(50)],
    }
    result = run_tool(ALLOCATE, args)
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None


def _big_csv(path: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    v = 50 + 10 * np.sin(np.arange(n) * 2 * np.pi / 288) + rng.normal(0, 2, n)
    v[n // 2] += 200
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("timestamp,value\n")
        fh.writelines(f"{(t0 + timedelta(minutes=5 * i)).isoformat()},{v[i]:.3f}\n" for i in range(n))
    return path


def _cpu_is_idle(seconds: float = 0.5) -> float:
    """CPU time this process used over ``seconds`` of doing nothing (all threads)."""
    before = time.process_time()
    time.sleep(seconds)
    return time.process_time() - before


@pytest.mark.anyio
@pytest.mark.slow
async def test_shesd_on_a_million_points_ends_within_the_timeout_and_leaves_cpu_idle(tmp_path: Path) -> None:
    path = _big_csv(tmp_path / "big.csv.gz", 1_000_000)
    threads = threading.active_count()
    transport = BuiltinTransport(SERVER)

    class _Events:
        def list_changed(self, kind: str) -> None: ...

        def resource_updated(self, uri: str) -> None: ...

        async def elicit(self, params: object) -> object: ...

    started = time.monotonic()
    async with transport.connect(_Events()) as session:  # type: ignore[arg-type]
        result = await session.call_tool("detect_anomalies", {"series": {"csv_path": str(path)}}, timeout=120)
    assert time.monotonic() - started < 120
    assert not result.is_error, result.content[0].text
    assert result.structured_content is not None and result.structured_content["points_checked"] == 1_000_000
    assert threading.active_count() <= threads + 1  # anyio's idle worker thread may linger, parked
    assert _cpu_is_idle() < 0.2


def test_shesd_is_not_quadratic() -> None:
    """10x the points takes far less than 100x the time (the textbook ESD is O(n x k))."""
    from ucp.builtins.cloud.anomalies.detectors import hybrid_esd

    rng = np.random.default_rng(1)
    small, big = rng.normal(size=20_000), rng.normal(size=200_000)
    hybrid_esd(small, 0.1, 0.05)  # warm up scipy
    t0 = time.perf_counter()
    hybrid_esd(small, 0.1, 0.05)
    t1 = time.perf_counter()
    hybrid_esd(big, 0.1, 0.05)
    t2 = time.perf_counter()
    assert (t2 - t1) < 25 * (t1 - t0) + 0.5


def test_flat_series_with_a_spike_is_flagged_and_warned_about() -> None:
    from tests.builtins.cloud.conftest import series

    values = [0.0] * 400
    values[200] = 50.0
    values[300] = 1.0
    result = run_tool(ANOMALIES, {"series": series(values)})
    assert not result.is_error
    out = result.structured_content
    assert out is not None
    flagged = {a["value"] for a in out["anomalies"]}
    assert 50.0 in flagged
    assert any("degenerate" in w and "identical" in w for w in out["warnings"])


def test_constant_series_says_so_instead_of_silence() -> None:
    from tests.builtins.cloud.conftest import series

    result = run_tool(ANOMALIES, {"series": series([3.0] * 100)})
    out = result.structured_content
    assert out is not None and out["anomaly_count"] == 0
    assert any("all residuals are identical" in w for w in out["warnings"])
