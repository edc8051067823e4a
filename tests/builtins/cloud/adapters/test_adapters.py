"""Live adapters: off by default; Prometheus tested for real against a local fake server."""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.builtins.cloud.conftest import call
from ucp.builtins.cloud.adapters import AdapterError, MissingDependency, cloudwatch, kubernetes, prometheus
from ucp.builtins.cloud.anomalies import detect_anomalies as anomalies

START = datetime(2026, 1, 5, tzinfo=UTC)


class _Fake(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_GET(self) -> None:
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        _Fake.seen.append({"path": url.path, "query": q, "auth": self.headers.get("Authorization")})
        if url.path != "/api/v1/query_range":
            self.send_response(404)
            self.end_headers()
            return
        if q["query"] == "bad(":
            self._json(400, {"status": "error", "errorType": "bad_data", "error": "parse error"})
            return
        start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
        n = int((end - start) // step) + 1
        values = [[start + i * step, "NaN" if i == 3 else str(10 + (i % 24))] for i in range(n)]
        series = [{"metric": {"instance": "a"}, "values": values}]
        if q["query"] == "up":
            series.append({"metric": {"instance": "b"}, "values": values})
        self._json(200, {"status": "success", "data": {"resultType": "matrix", "result": series}})

    def _json(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def prom() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.integration  # real process, socket or model
def test_prometheus_query_range_feeds_a_tool(prom: str) -> None:
    got = prometheus.query_range(
        prom, "avg(rate(cpu[5m]))", START, START + timedelta(hours=47), 3600, token="s3cret", enabled=True
    )
    assert len(got.points) == 47  # 48 samples, one NaN dropped
    assert got.warnings and "dropped" in got.warnings[0]
    assert got.points[0] == {"timestamp": START.isoformat(), "value": 10.0}
    seen = _Fake.seen[-1]
    assert seen["auth"] == "Bearer s3cret"
    assert seen["query"]["step"] == "3600"
    out = call(anomalies.TOOL, {"series": got.points})  # the inline form is accepted as is
    assert out["points_checked"] == 47
    assert any("gap" in w for w in out["warnings"])


@pytest.mark.integration  # real process, socket or model
def test_prometheus_errors(prom: str) -> None:
    with pytest.raises(AdapterError, match="2 series"):
        prometheus.query_range(prom, "up", START, START + timedelta(hours=2), 60, enabled=True)
    with pytest.raises(AdapterError, match="HTTP 400"):
        prometheus.query_range(prom, "bad(", START, START + timedelta(hours=2), 60, enabled=True)
    with pytest.raises(AdapterError, match="cannot reach"):
        prometheus.query_range(
            "http://127.0.0.1:9", "x", START, START + timedelta(hours=2), 60, enabled=True, timeout_s=2
        )


@pytest.mark.integration  # real process, socket or model
def test_adapters_are_off_by_default(monkeypatch: pytest.MonkeyPatch, prom: str) -> None:
    monkeypatch.delenv("UCP_CLOUD_ADAPTERS", raising=False)
    with pytest.raises(AdapterError, match="UCP_CLOUD_ADAPTERS=prometheus"):
        prometheus.query_range(prom, "x", START, START + timedelta(hours=1), 60)
    monkeypatch.setenv("UCP_CLOUD_ADAPTERS", "cloudwatch, prometheus")
    assert prometheus.query_range(prom, "x", START, START + timedelta(hours=1), 600).points


def test_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes `import boto3` fail
    with pytest.raises(MissingDependency, match=r"ucp\[cloud-aws\]"):
        cloudwatch.get_metric_series("i-1", START, START + timedelta(hours=1), enabled=True)
    monkeypatch.setitem(sys.modules, "kubernetes", None)
    with pytest.raises(MissingDependency, match=r"ucp\[cloud-k8s\]"):
        kubernetes.list_pod_requests(enabled=True)


def test_cloudwatch_datapoints_are_sorted_inline_points() -> None:
    resp = {
        "Datapoints": [
            {"Timestamp": START + timedelta(minutes=5), "Maximum": 7.0},
            {"Timestamp": START, "Maximum": 3.5},
        ]
    }
    pts = cloudwatch.datapoints_to_points(resp, "Maximum")
    assert [p["value"] for p in pts] == [3.5, 7.0]
    with pytest.raises(AdapterError):
        cloudwatch.datapoints_to_points(resp, "Average")


@pytest.mark.parametrize(("q", "cores"), [("250m", 0.25), ("2", 2.0), ("1.5", 1.5), ("500000u", 0.5)])
def test_k8s_cpu_quantities(q: str, cores: float) -> None:
    assert kubernetes.parse_cpu(q) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("q", "gib"), [("512Mi", 0.5), ("2Gi", 2.0), ("1G", 1e9 / 2**30), ("1073741824", 1.0)]
)
def test_k8s_memory_quantities(q: str, gib: float) -> None:
    assert kubernetes.parse_memory_gib(q) == pytest.approx(gib)


def test_k8s_pods_to_specs() -> None:
    pods = [
        {
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "containers": [
                    {"resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}},
                    {"resources": {"requests": {"cpu": "1"}}},
                    {"resources": {}},
                ]
            },
        }
    ]
    assert kubernetes.pods_to_specs(pods) == [{"name": "shop/web", "cpu": 1.25, "memory_gib": 0.25}]
    with pytest.raises(AdapterError):
        kubernetes.parse_cpu("lots")
    assert not math.isnan(kubernetes.parse_memory_gib("0"))
