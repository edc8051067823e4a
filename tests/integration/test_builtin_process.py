"""Process isolation of built-in tools: a timeout kills the worker, so the CPU is really freed
(a thread can only be abandoned). Real worker processes: marked integration."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ucp.downstream.builtin import BuiltinTransport
from ucp.errors import DownstreamTimeoutError

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


class _Events:
    def list_changed(self, kind: str) -> None: ...

    def resource_updated(self, uri: str) -> None: ...

    async def elicit(self, params: object) -> object: ...


def _running(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return False
    return stat.read_text().split()[2] not in ("Z", "X")


async def test_a_timeout_kills_the_worker_and_frees_the_cpu() -> None:
    transport = BuiltinTransport("tests.servers.spin_builtin:SERVER", isolation="process", max_workers=1)
    async with transport.connect(_Events()) as session:  # type: ignore[arg-type]
        first = await session.call_tool("pid", {}, timeout=60)
        assert not first.is_error and first.structured_content is not None
        worker = int(first.structured_content["pid"])
        assert worker != os.getpid()
        started = time.monotonic()
        with pytest.raises(DownstreamTimeoutError, match="worker process was stopped"):
            await session.call_tool("spin", {}, timeout=2)
        assert time.monotonic() - started < 10
        deadline = time.monotonic() + 5
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(worker)  # the spinning worker is gone, not abandoned
        again = await session.call_tool("pid", {}, timeout=60)  # a fresh worker takes over
        assert again.structured_content is not None and int(again.structured_content["pid"]) != worker


async def test_cloud_tools_run_in_a_worker_with_structured_errors() -> None:
    transport = BuiltinTransport("ucp.builtins.cloud.server:SERVER", isolation="process", max_workers=1)
    async with transport.connect(_Events()) as session:  # type: ignore[arg-type]
        bad = await session.call_tool(
            "allocate_costs", {"nodes": [{"name": "n", "hourly_cost_usd": 1e308}]}, timeout=120
        )
        assert bad.is_error and (bad.meta or {})["ucp/error"]["field"] == "nodes[0].hourly_cost_usd"
        ok = await session.call_tool("lookup_instance_prices", {"instance_types": ["m5.large"]}, timeout=120)
        assert not ok.is_error and ok.structured_content is not None
