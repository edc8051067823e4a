"""The service registry routes, in process: register (201/200/202), list, read, health,
deregister, and the refusals (SSRF 400 with reasons, 409, 422, 404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers import api_client, free_port, running_gateway, toy_server, wait_until
from tests.pool.test_services import FAST, service
from ucp.app import Gateway

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway([], tmp_path / "home", **FAST) as gw:  # type: ignore[arg-type]
        yield gw


@pytest.mark.integration  # real process, socket or model
async def test_register_list_health_deregister(gateway: Gateway) -> None:
    port = free_port()
    body = {
        "name": "weather",
        "base_url": f"http://127.0.0.1:{port}",
        "tags": ["meteo"],
        "version": "2.1",
        "environment": "staging",
    }
    async with api_client(gateway) as http, service(port):
        created = await http.post("/registry/services", json=body)
        assert created.status_code == 201, created.text
        info = created.json()
        assert info["manual_url"] == f"http://127.0.0.1:{port}/utcp"
        assert info["tools"] == ["weather__convert_currency", "weather__weather_forecast"]
        assert info["health"]["healthy"] is True
        assert info["health"]["tool_count"] == 2
        assert (await http.post("/registry/services", json=body)).status_code == 200  # re-registration

        listed = (await http.get("/registry/services")).json()["services"]
        assert [s["name"] for s in listed] == ["weather"]
        assert listed[0]["version"] == "2.1"
        one = await http.get("/registry/services/weather")
        assert one.json()["environment"] == "staging"
        report = (await http.get("/registry/health")).json()
        assert (report["total"], report["healthy"]) == (1, 1)
        assert report["services"][0]["latency_ms"] is not None
        found = (await http.get("/api/v1/tools/search", params={"query": "convert currency"})).json()
        assert found["results"][0]["name"] == "weather__convert_currency"
        called = await http.post(
            "/api/v1/tools/call",
            json={"name": "weather__weather_forecast", "arguments": {"city": "Oslo", "days": 2}},
        )
        assert len(called.json()["structured_content"]["days"]) == 2

    async with api_client(gateway) as http:
        await wait_until(lambda: not gateway.services.health("weather")["healthy"], timeout=15)
        report = (await http.get("/registry/health")).json()
        assert report["healthy"] == 0
        assert report["services"][0]["last_check_ok"] is False
        gone = await http.delete("/registry/services/weather")
        assert gone.status_code == 200
        assert gone.json() == {"removed": "weather"}
        assert (await http.get("/registry/services")).json()["services"] == []
        missing = await http.delete("/registry/services/weather")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "unknown_server"
        assert (await http.get("/registry/services/weather")).status_code == 404


@pytest.mark.integration  # real process, socket or model
async def test_unreachable_service_is_accepted_as_202(gateway: Gateway) -> None:
    async with api_client(gateway) as http:
        resp = await http.post(
            "/registry/services", json={"name": "later", "manual_url": f"http://127.0.0.1:{free_port()}/utcp"}
        )
    assert resp.status_code == 202
    assert resp.json()["health"]["healthy"] is False
    assert resp.json()["health"]["last_error"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://10.0.0.1/utcp", "private"),
        ("http://[fe80::1]/utcp", "link_local"),
        ("http://user:pw@127.0.0.1/utcp", "credentials_in_url"),
    ],
)
async def test_ssrf_refused(gateway: Gateway, url: str, reason: str) -> None:
    async with api_client(gateway) as http:
        resp = await http.post("/registry/services", json={"name": "evil", "manual_url": url})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "unsafe_url"
    assert error["details"]["reason"] == reason
    assert "pw" not in resp.text
    assert gateway.services.all() == []


@pytest.mark.integration  # real process, socket or model
async def test_invalid_registrations(tmp_path: Path) -> None:
    async with running_gateway([toy_server()], tmp_path / "home") as gw, api_client(gw) as http:
        taken = await http.post(
            "/registry/services", json={"name": "toy", "manual_url": "http://127.0.0.1:9/utcp"}
        )
        assert taken.status_code == 409
        assert taken.json()["error"]["code"] == "duplicate_server"
        for body in [
            {"name": "bad name", "manual_url": "http://127.0.0.1:9/utcp"},
            {"name": "a__b", "manual_url": "http://127.0.0.1:9/utcp"},
            {"name": "ucp", "manual_url": "http://127.0.0.1:9/utcp"},
            {"name": "both", "manual_url": "http://127.0.0.1:9/utcp", "base_url": "http://127.0.0.1:9"},
            {"name": "neither"},
            {"name": "tags", "manual_url": "http://127.0.0.1:9/utcp", "tags": [""]},
        ]:
            resp = await http.post("/registry/services", json=body)
            assert resp.status_code == 422, body
            assert resp.json()["error"]["code"] == "invalid_request"
