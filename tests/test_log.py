from __future__ import annotations

import io
import json
from pathlib import Path

from ucp import log


def test_json_lines_with_redaction() -> None:
    out = io.StringIO()
    log.configure("info", stream=out)
    logger = log.get_logger("t")
    logger.info(
        "tool_call",
        server="s",
        api_key="hunter2",
        headers={"Authorization": "Bearer abc.def"},
        note="sent Bearer sekrit123 upstream",
    )
    logger.debug("hidden")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "tool_call"
    assert line["api_key"] == "***"
    assert line["headers"] == {"Authorization": "***"}
    assert "sekrit123" not in line["note"]
    assert "hunter2" not in out.getvalue()
    log.configure("info")


def test_expanded_secrets_are_masked_everywhere() -> None:
    from ucp.config.loader import expand_env

    out = io.StringIO()
    log.configure("info", stream=out)
    value = expand_env("--key=${MY_SERVICE_PAT}", {"MY_SERVICE_PAT": "pat-0123456789"})
    assert value == "--key=pat-0123456789"
    log.get_logger("t").warning("downstream_failed", error=f"cannot start /opt/x {value} (ENOENT)")
    assert "pat-0123456789" not in out.getvalue()
    assert "pat-0123456789" not in log.mask_secrets(f"spawn failed: {value}")
    assert (
        log.mask_secrets("run --api-key sk-abc PASSWORD=hunter2x now") == "run --api-key *** PASSWORD=*** now"
    )
    log.configure("info")


def test_the_log_file_rotates_by_size(tmp_path: Path) -> None:
    path = tmp_path / "ucp.log"
    rotating = log.RotatingFile(path, max_bytes=1000)
    for i in range(100):
        rotating.write(f"line {i:04d} " + "x" * 40 + "\n")
    rotating.close()
    assert path.stat().st_size <= 1000
    assert (tmp_path / "ucp.log.1").stat().st_size <= 1000
    assert not (tmp_path / "ucp.log.2").exists()
    assert "line 0099" in path.read_text()


def test_other_libraries_lines_are_json_masked_and_carry_the_bound_context() -> None:
    import logging

    import structlog

    out = io.StringIO()
    log.configure("info", stream=out)
    try:
        with structlog.contextvars.bound_contextvars(request_id="req-7"):
            logging.getLogger("httpx2").warning("sent Authorization: Bearer s3cr3t-token to %s", "x")
            log.get_logger("ucp.t").info("ours")
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
    finally:
        log.configure("info")
    theirs, ours = lines
    assert theirs["logger"] == "httpx2" and theirs["level"] == "warning"
    assert "s3cr3t-token" not in out.getvalue() and theirs["event"].endswith("to x")
    assert theirs["request_id"] == ours["request_id"] == "req-7"
    assert "timestamp" in theirs


def test_lines_inside_a_span_carry_its_trace_id() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ucp.config.models import TelemetrySettings
    from ucp.observe.tracing import Tracing

    out = io.StringIO()
    log.configure("info", stream=out)
    tracing = Tracing(TelemetrySettings(tracing=True), {}, exporter=InMemorySpanExporter(), sync_export=True)
    try:
        with tracing.span("work") as span:
            log.get_logger("ucp.t").info("inside")
        log.get_logger("ucp.t").info("outside")
        inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    finally:
        log.configure("info")
        tracing.close()
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert "trace_id" not in outside
