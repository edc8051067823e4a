"""OpenTelemetry traces: one span per upstream request, children for ranking and the downstream call.

Off by default. On when ``[telemetry] tracing = true`` or when the standard
``OTEL_*`` variables ask for it (``OTEL_TRACES_EXPORTER`` other than ``none``, or
an ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``), unless ``OTEL_SDK_DISABLED=true``.
Spans go to OTLP/HTTP (the endpoint from ``ucp.toml``, else the SDK reads the
``OTEL_EXPORTER_OTLP_*`` variables itself) through a batch processor, so the
call path never waits on the collector.

The tracer provider is UCP's own (never the process-global one): several
gateways in one process do not share spans, and a library's global provider is
left alone. Context travels in the standard W3C ``traceparent`` header, read
from HTTP clients (``extract``) and written to HTTP downstreams and into the MCP
``_meta`` of downstream calls (``inject``), with the SDK's global propagator.

Span attributes carry names, servers, outcomes and sizes, never arguments or
results (``record_arguments`` opts in to the arguments, after secret masking).
When tracing is off every call here is a no-op of the API's non-recording span.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanKind, Status, StatusCode, Tracer

from ucp.config.models import TelemetrySettings
from ucp.log import add_context_provider

_NOOP = trace.NoOpTracer()
TRACEPARENT = "traceparent"


def enabled_by(settings: TelemetrySettings, env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if settings.tracing:
        return True
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter and exporter != "none":
        return True
    return bool(env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


class Tracing:
    """The gateway's tracer. ``exporter`` (tests: the SDK's in-memory exporter) replaces OTLP."""

    def __init__(
        self,
        settings: TelemetrySettings | None = None,
        env: Mapping[str, str] | None = None,
        *,
        exporter: Any = None,
        sync_export: bool = False,
    ) -> None:
        self.settings = settings or TelemetrySettings()
        environ = os.environ if env is None else env
        self.enabled = exporter is not None or enabled_by(self.settings, environ)
        self.provider: Any = None
        self.tracer: Tracer = _NOOP
        if self.enabled:
            self._start(environ, exporter, sync_export)

    def _start(self, env: Mapping[str, str], exporter: Any, sync_export: bool) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        import ucp

        name = env.get("OTEL_SERVICE_NAME") or self.settings.service_name
        resource = Resource.create({"service.name": name, "service.version": ucp.__version__})
        sampler = ParentBased(TraceIdRatioBased(self.settings.sample_ratio))
        self.provider = TracerProvider(resource=resource, sampler=sampler)
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = (
                OTLPSpanExporter(endpoint=self.settings.otlp_endpoint)
                if self.settings.otlp_endpoint
                else (OTLPSpanExporter())
            )
        processor = SimpleSpanProcessor(exporter) if sync_export else BatchSpanProcessor(exporter)
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("ucp", ucp.__version__)

    def flush(self, timeout_ms: int = 5000) -> None:
        if self.provider is not None:
            self.provider.force_flush(timeout_ms)

    def close(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()
            self.provider = None
            self.tracer = _NOOP

    # ------------------------------------------------------------ spans
    @contextmanager
    def span(
        self, name: str, *, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None
    ) -> Iterator[Span]:
        """A span, current while the block runs; an exception marks it as an error."""
        if not self.enabled:
            yield _NONRECORDING
            return
        with self.tracer.start_as_current_span(
            name, kind=kind, attributes=dict(attributes or {}), record_exception=False
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise

    @contextmanager
    def remote_parent(
        self, headers: Mapping[str, str] | None = None, meta: Mapping[str, Any] | None = None
    ) -> Iterator[None]:
        """Make the caller's W3C context (an HTTP ``traceparent`` header, else one in MCP ``_meta``)
        the parent of the spans opened inside the block."""
        carrier: dict[str, str] = {}
        for source in (meta, headers):
            if source:
                for key in (TRACEPARENT, "tracestate"):
                    value = source.get(key)
                    if isinstance(value, str) and key not in carrier:
                        carrier[key] = value
        if not self.enabled or TRACEPARENT not in carrier:
            yield
            return
        token = otel_context.attach(propagate.extract(carrier))
        try:
            yield
        finally:
            otel_context.detach(token)


_NONRECORDING = NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)


def inject(carrier: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Write the current span's ``traceparent`` (and ``tracestate``) into ``carrier``; nothing
    when no span is recording."""
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(carrier)
    return carrier


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, for log lines; None outside a trace."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


_TRACEPARENT_RE = re.compile(rb'"traceparent"\s*:\s*"(00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"')


def traceparent_of(body: bytes) -> str | None:
    """The ``_meta.traceparent`` of a JSON-RPC request body, without parsing the whole body."""
    if b"traceparent" not in body:
        return None
    match = _TRACEPARENT_RE.search(body)
    return match.group(1).decode() if match else None


def _log_fields() -> dict[str, str] | None:
    ids = current_ids()
    return {"trace_id": ids[0], "span_id": ids[1]} if ids is not None else None


add_context_provider(_log_fields)
