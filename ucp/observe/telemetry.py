"""``Telemetry``: what the call path reports each call to — metrics, a trace, a call record.

One object per gateway, built by the composition root and handed to the call
path (``ucp.session.calls``), the meta-tools' ranking and the HTTP front. It
keeps the hot path to a handful of cheap operations: two counters/histograms,
one span (a no-op when tracing is off) and one append to an in-memory buffer.
``Telemetry.off()`` is the instance used where nothing was configured (unit
tests, benchmarks' baseline): metrics in a private registry, no traces, no records.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from ucp.config.models import TelemetrySettings
from ucp.log import get_logger, redact
from ucp.observe.analytics import Analytics
from ucp.observe.metrics import Metrics, ServerRows, SessionRows
from ucp.observe.records import CallRecord, CallRecords, RecordStore
from ucp.observe.tracing import Tracing

log = get_logger("ucp.observe")

CLOUD_SERVER = "cloud"  # the built-in cloud tools (ucp/builtins/cloud)
_SAVING_KEYS = ("saving_usd_month", "monthly_saving_usd", "saving_usd", "saving_usd_hr")


def _saving(value: Any, depth: int = 0) -> tuple[float, str] | None:
    """The estimated saving a cloud tool's structured result reports, with its unit key."""
    if isinstance(value, dict):
        for key in _SAVING_KEYS:
            got = value.get(key)
            if isinstance(got, (int, float)) and not isinstance(got, bool):
                return float(got), key
        if depth < 2:
            total, unit = 0.0, ""
            for child in value.values():
                found = _saving(child, depth + 1)
                if found is not None and (not unit or found[1] == unit):
                    total, unit = total + found[0], found[1]
            return (total, unit) if unit else None
    if isinstance(value, list) and depth < 2:
        total, unit = 0.0, ""
        for child in value[:1000]:
            found = _saving(child, depth + 1)
            if found is not None and (not unit or found[1] == unit):
                total, unit = total + found[0], found[1]
        return (total, unit) if unit else None
    return None


class CloudSavings:
    """The built-in cloud tools' last recommendations and their estimated savings (in memory)."""

    def __init__(self, keep: int = 50) -> None:
        self.recent: deque[dict[str, Any]] = deque(maxlen=keep)

    def observe(self, tool: str, structured: Any) -> None:
        found = _saving(structured)
        if found is not None:
            self.recent.appendleft(
                {"tool": tool, "at": time.time(), "saving": round(found[0], 4), "unit": found[1]}
            )

    def to_dict(self) -> dict[str, Any]:
        items = list(self.recent)
        monthly = sum(i["saving"] for i in items if i["unit"] in ("saving_usd_month", "monthly_saving_usd"))
        return {"recent": items, "estimated_usd_month": round(monthly, 2)}


class Telemetry:
    def __init__(
        self,
        settings: TelemetrySettings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        records_path: Path | None = None,
        learning_db: Path | None = None,
        servers: ServerRows | None = None,
        sessions: SessionRows | None = None,
        exporter: Any = None,
        sync_export: bool = False,
        records: RecordStore | None = None,
        analytics: Analytics | None = None,
    ) -> None:
        """``records`` and ``analytics`` replace the stores under UCP_HOME (shared state)."""
        self.settings = settings or TelemetrySettings()
        self.metrics = Metrics(
            max_tool_labels=self.settings.max_tool_labels, servers=servers, sessions=sessions
        )
        self.tracing = Tracing(self.settings, env, exporter=exporter, sync_export=sync_export)
        self.records: RecordStore | None = None
        if self.settings.call_records and records is not None:
            self.records = records
        elif self.settings.call_records and records_path is not None:
            self.records = CallRecords(records_path, max_rows=self.settings.max_call_records)
        self.learning_db = learning_db
        self.analytics = Analytics(self.records, learning_db)
        if analytics is not None:
            analytics.records = self.records
            self.analytics = analytics
        self.savings = CloudSavings()

    @classmethod
    def off(cls) -> Telemetry:
        return cls(TelemetrySettings(tracing=False, call_records=False), env={})

    # ------------------------------------------------------------ the call path
    @contextmanager
    def call_span(self, tool: str) -> Iterator[Span]:
        """The span of one tool call (a child of the caller's span, or the root of a trace)."""
        with self.tracing.span(
            f"tools/call {tool}", kind=SpanKind.INTERNAL, attributes={"ucp.tool": tool}
        ) as s:
            yield s

    def span_arguments(self, span: Span, arguments: dict[str, Any]) -> None:
        """Arguments in the call's span only when ``record_arguments`` opts in (masked like logs)."""
        if self.settings.record_arguments and span.is_recording():
            import json

            span.set_attribute("ucp.arguments", json.dumps(redact(arguments), default=str)[:4000])

    @contextmanager
    def downstream_span(self, server: str, tool: str) -> Iterator[Span]:
        with self.tracing.span(
            f"downstream {server}/{tool}",
            kind=SpanKind.CLIENT,
            attributes={"ucp.server": server, "ucp.downstream.tool": tool},
        ) as s:
            yield s

    def call_finished(
        self,
        span: Span,
        *,
        session: str,
        client: str,
        server: str,
        tool: str,
        outcome: str,
        error_code: str | None,
        overhead_s: float,
        downstream_s: float | None,
        structured: Any = None,
    ) -> None:
        if server == CLOUD_SERVER and structured is not None and outcome == "ok":
            self.savings.observe(tool, structured)
        self.metrics.call_finished(server, tool, outcome, overhead_s, downstream_s)
        if span.is_recording():
            span.set_attribute("ucp.outcome", outcome)
            if error_code:
                span.set_attribute("ucp.error_code", error_code)
                span.set_status(Status(StatusCode.ERROR, error_code))
        if self.records is not None:
            total = overhead_s + (downstream_s or 0.0)
            self.records.add(
                CallRecord(
                    ts=time.time(),
                    session=session,
                    client=client,
                    server=server,
                    tool=tool,
                    outcome=outcome,
                    error_code=error_code,
                    duration_ms=round(total * 1000, 3),
                    downstream_ms=round(downstream_s * 1000, 3) if downstream_s is not None else None,
                )
            )

    def call_rejected(self, span: Span, code: str) -> None:
        self.metrics.call_rejected(code)
        if span.is_recording():
            span.set_attribute("ucp.error_code", code)
            span.set_status(Status(StatusCode.ERROR, code))

    # ------------------------------------------------------------ lifecycle
    def flush(self) -> None:
        if self.records is not None:
            try:
                self.records.flush()
            except Exception:
                log.exception("call_records_not_saved")

    def close(self) -> None:
        self.tracing.close()
        if self.records is not None:
            try:
                self.records.close()
            except Exception:
                log.exception("call_records_not_saved")
            self.records = None
            self.analytics.records = None
