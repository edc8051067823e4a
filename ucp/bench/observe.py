"""Per-call cost of observability: metrics + call records + tracing on vs off, side by side in one run.

Four gateways in one process, each with the same in-memory downstream (a tool that answers at
once, so the figure is UCP's own time), differing only in their ``Telemetry``:

- ``none``: no instrumentation at all (null metrics, no spans, no records): the baseline;
- ``metrics``: Prometheus metrics and call records, tracing off (the default configuration);
- ``tracing sampled off``: tracing on with ``sample_ratio = 0`` (spans are created but not recorded);
- ``tracing on``: every call traced, spans batched to an exporter that discards them.

Calls go through ``SessionAPI.call`` (resolve, validate, pool, record), the rounds interleave the
variants so machine noise hits each alike, and the overhead is each variant's p50 minus the
baseline's p50, measured in the same run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types

from ucp.bench.proxy import percentile
from ucp.config.models import Config, TelemetrySettings
from ucp.config.paths import Paths
from ucp.downstream.base import Capabilities, DownstreamEvents, ProgressFn, ToolsOnly
from ucp.observe.metrics import Metrics
from ucp.observe.telemetry import Telemetry

TOOL = types.Tool(
    name="echo",
    description="Echo the text back.",
    input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)
RESULT = types.CallToolResult(content=[types.TextContent(type="text", text="x")])


class _InstantSession(ToolsOnly):
    def __init__(self) -> None:
        self.capabilities = Capabilities(tools=True)
        self.closed = anyio.Event()
        self.server_info = "bench 1.0"

    async def list_tools(self) -> list[types.Tool]:
        return [TOOL]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], *, timeout: float, progress: ProgressFn | None = None
    ) -> types.CallToolResult:
        return RESULT

    async def ping(self, *, timeout: float) -> None:
        return None


class _InstantTransport:
    @property
    def kind(self) -> str:
        return "bench"

    @asynccontextmanager
    async def connect(self, events: DownstreamEvents) -> AsyncIterator[_InstantSession]:
        session = _InstantSession()
        try:
            yield session
        finally:
            session.closed.set()


class _NullMetrics(Metrics):
    def call_started(self, server: str) -> None:
        return None

    def call_finished(
        self, server: str, tool: str, outcome: str, overhead_s: float, downstream_s: float | None
    ) -> None:
        return None

    def searched(self, mode: str, seconds: float, shown: int, explored: int) -> None:
        return None

    def followed_search(self, rank: int | None) -> None:
        return None


class _Discard:
    """A span exporter that drops what it is given (the cost measured is UCP's, not a collector's)."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def _telemetry(variant: str, home: Path) -> Telemetry:
    if variant == "none":
        tel = Telemetry(TelemetrySettings(tracing=False, call_records=False), env={})
        tel.metrics = _NullMetrics()
        return tel
    records = home / "calls.sqlite"
    if variant == "metrics":
        return Telemetry(TelemetrySettings(tracing=False), env={}, records_path=records)
    ratio = 0.0 if variant == "tracing sampled off" else 1.0
    return Telemetry(
        TelemetrySettings(tracing=True, sample_ratio=ratio), env={}, records_path=records, exporter=_Discard()
    )


VARIANTS = ("none", "metrics", "tracing sampled off", "tracing on")


async def _bench(calls: int, rounds: int, warmup: int) -> dict[str, Any]:
    from ucp.app import Gateway
    from ucp.pool.pool import ServerSpec

    timings: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="ucp-bench-observe-") as tmp:
        async with AsyncExitStack() as stack:
            targets = []
            for variant in VARIANTS:
                home = Path(tmp) / variant.replace(" ", "-")
                gw = Gateway(
                    Config(builtins=False),
                    Paths(home).ensure(),
                    dense=False,
                    telemetry=_telemetry(variant, home / "state"),
                )
                await stack.enter_async_context(gw)
                gw.pool.add(ServerSpec("bench", _InstantTransport()))
                await gw.wait_ready(10)
                session = gw.api.open(client_name="bench", transport="rest")
                for _ in range(warmup):
                    await gw.api.call(session, "bench__echo", {"text": "x"})
                targets.append((variant, gw, session))
            for _ in range(rounds):
                for variant, gw, session in targets:
                    out = timings[variant]
                    for _ in range(calls):
                        started = time.perf_counter()
                        await gw.api.call(session, "bench__echo", {"text": "x"})
                        out.append((time.perf_counter() - started) * 1000)
    base = statistics.median(timings["none"])
    rows = []
    for variant in VARIANTS:
        values = timings[variant]
        p50 = statistics.median(values)
        rows.append(
            {
                "variant": variant,
                "calls": len(values),
                "p50_ms": round(p50, 4),
                "p95_ms": round(percentile(values, 0.95), 4),
                "mean_ms": round(statistics.fmean(values), 4),
                "overhead_p50_ms": round(p50 - base, 4),
                "ratio_p50": round(p50 / base, 3) if base else None,
            }
        )
    return {"calls_per_round": calls, "rounds": rounds, "rows": rows}


def run_observe_bench(*, calls: int = 2000, rounds: int = 5, warmup: int = 200) -> dict[str, Any]:
    """The table of ``ucp bench observe`` (one JSON-able dict)."""
    import platform

    from ucp import log

    log.configure("warning")  # one log line per call would dominate what is measured
    result = anyio.run(_bench, calls, rounds, warmup)
    result["machine"] = f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}"
    return result
