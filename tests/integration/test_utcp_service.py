"""A real HTTP UTCP service registers itself with a real `ucp serve` (search mode); its tools are
found and called through MCP and REST; killed (SIGKILL, no goodbye) it turns unhealthy and its
tools leave search; restarted, they come back; stopped politely, it deregisters.
The copy-paste example service (examples/utcp_service) is run the same way."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from tests.helpers import PY, ROOT, SERVERS, background, free_port, venv_bin, wait_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module")
def ucp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ucp-services")
    (home / "ucp.toml").write_text(
        "builtins = false\n[http]\nhealth_interval = 0.5\n[pool]\nbackoff_initial = 0.2\nbackoff_max = 1\n"
    )
    port = free_port()
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_API_KEYS": ""}
    with background(
        [
            venv_bin("ucp"),
            "serve",
            "--transport",
            "http",
            "--port",
            str(port),
            "--no-dense",
            "--mode",
            "search",
        ],
        port=port,
        env=env,
        timeout=60,
    ):
        yield f"http://127.0.0.1:{port}"


def start_service(port: int, ucp: str, name: str = "weather") -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [PY, str(SERVERS / "utcp_service.py"), "--port", str(port), "--ucp", ucp, "--name", name],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, 20, proc)
    return proc


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    """Poll an HTTP-observable condition under a deadline."""
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.1)


async def service_health(http: httpx2.AsyncClient, name: str) -> dict[str, Any] | None:
    report = (await http.get("/registry/health")).json()
    return next((s for s in report["services"] if s["name"] == name), None)


async def rest_search(http: httpx2.AsyncClient, query: str) -> list[str]:
    data = (await http.get("/api/v1/tools/search", params={"query": query, "top_k": 10})).json()
    return [r["name"] for r in data["results"]]


async def mcp_search(ucp: str, query: str) -> list[str]:
    async with Client(f"{ucp}/mcp", mode="legacy") as client:
        result = await client.call_tool("ucp__search_tools", {"query": query, "limit": 10})
        assert result.structured_content is not None
        return [r["name"] for r in result.structured_content["results"]]


async def test_self_registered_service_lifecycle(ucp_url: str) -> None:
    port = free_port()
    async with httpx2.AsyncClient(base_url=ucp_url, timeout=30) as http:
        proc = start_service(port, ucp_url)
        try:

            async def healthy() -> bool:
                health = await service_health(http, "weather")
                return bool(health and health["healthy"] and health["tool_count"] == 2)

            await eventually(healthy, "service registered and healthy")
            services = (await http.get("/registry/services")).json()["services"]
            assert services[0]["environment"] == "test"
            assert services[0]["tools"] == ["weather__convert_currency", "weather__weather_forecast"]

            # found by search, through REST and through MCP (search mode: meta-tools only)
            assert "weather__weather_forecast" in await rest_search(http, "weather forecast for a city")
            assert "weather__convert_currency" in await mcp_search(ucp_url, "convert currency exchange rate")

            # called through MCP...
            async with Client(f"{ucp_url}/mcp", mode="legacy") as client:
                listed = {t.name for t in (await client.list_tools()).tools}
                assert "ucp__search_tools" in listed
                assert "weather__convert_currency" not in listed
                result = await client.call_tool(
                    "ucp__call_tool",
                    {
                        "name": "weather__convert_currency",
                        "arguments": {"amount": 100, "from": "EUR", "to": "JPY"},
                    },
                )
                assert result.is_error is not True
                assert result.structured_content == {"amount": 16200.0, "currency": "JPY"}
            # ...and through REST
            called = (
                await http.post(
                    "/api/v1/tools/call",
                    json={"name": "weather__weather_forecast", "arguments": {"city": "Lima", "days": 3}},
                )
            ).json()
            assert called["is_error"] is False
            assert [d["day"] for d in called["structured_content"]["days"]] == [1, 2, 3]

            # killed without a goodbye: unhealthy after the failed checks, tools leave search
            stop(proc, signal.SIGKILL)

            async def unhealthy() -> bool:
                health = await service_health(http, "weather")
                return bool(health and not health["healthy"])

            await eventually(unhealthy, "service unhealthy")
            assert not any(
                n.startswith("weather__") for n in await rest_search(http, "weather forecast for a city")
            )
            assert not any(
                n.startswith("weather__") for n in await mcp_search(ucp_url, "weather forecast city")
            )
            down = (
                await http.post(
                    "/api/v1/tools/call",
                    json={"name": "weather__weather_forecast", "arguments": {"city": "Lima"}},
                )
            ).json()
            assert down["is_error"] is True

            # restarted: healthy again, tools back in search
            proc = start_service(port, ucp_url)
            await eventually(healthy, "service healthy again")

            async def back() -> bool:
                return "weather__weather_forecast" in await rest_search(http, "weather forecast for a city")

            await eventually(back, "tools back in search")
            assert "weather__weather_forecast" in await mcp_search(ucp_url, "weather forecast city")
        finally:
            stop(proc)  # SIGTERM: the service deregisters itself
        assert (await http.get("/registry/services")).json()["services"] == []
        assert not any(
            n.startswith("weather__") for n in await rest_search(http, "weather forecast for a city")
        )


async def test_example_service_registers_and_leaves(ucp_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "UCP_URL": ucp_url, "PORT": str(port), "SERVICE_NAME": "shipping"}
    async with httpx2.AsyncClient(base_url=ucp_url, timeout=30) as http:
        with background(
            [PY, str(ROOT / "examples" / "utcp_service" / "service.py")], port=port, env=env
        ) as proc:

            async def registered() -> bool:
                health = await service_health(http, "shipping")
                return bool(health and health["healthy"])

            await eventually(registered, "example registered")
            assert "shipping__shipping_cost" in await rest_search(http, "shipping price of a parcel")
            called = (
                await http.post(
                    "/api/v1/tools/call",
                    json={"name": "shipping__shipping_cost", "arguments": {"weight_kg": 2, "zone": "europe"}},
                )
            ).json()
            assert called["structured_content"] == {"zone": "europe", "weight_kg": 2, "cost_eur": 20.0}
            stop(proc)
        assert await service_health(http, "shipping") is None
