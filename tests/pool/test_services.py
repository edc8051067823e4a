"""SelfRegisteredServices: register, index, health (down and back), persistence across restarts,
re-registration, deregistration, refusals. The service runs in process on a real socket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn

from tests.helpers import free_port, running_gateway, toy_server, wait_until
from tests.servers.utcp_service import build_app
from ucp.app import Gateway
from ucp.config.models import HttpSettings, PoolSettings
from ucp.errors import DuplicateServerError, RegistryError, UnknownServerError, UnsafeURLError

pytestmark = pytest.mark.anyio

FAST = {"http": HttpSettings(health_interval=0.2), "pool": PoolSettings(backoff_initial=0.1, backoff_max=0.4)}


@asynccontextmanager
async def serve_app(app: Any, port: int) -> AsyncIterator[None]:
    """Serve an ASGI app on 127.0.0.1:port in this event loop, for the duration of the block."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.01)
        try:
            yield
        finally:
            server.should_exit = True


def service(port: int) -> AbstractAsyncContextManager[None]:
    """The test UTCP service on 127.0.0.1:port."""
    return serve_app(build_app(port, None, "weather", None), port)


async def search_names(gateway: Gateway, query: str) -> list[str]:
    ranking = await gateway.router.rank(query, limit=10)
    return [r.entry.exposed for r in ranking.results]


@asynccontextmanager
async def gateway_at(home: Path, **kw: object) -> AsyncIterator[Gateway]:
    async with running_gateway([], home, **FAST, **kw) as gw:  # type: ignore[arg-type]
        yield gw


@pytest.mark.integration  # real process, socket or model
async def test_register_index_health_down_and_back(tmp_path: Path) -> None:
    port = free_port()
    async with gateway_at(tmp_path / "home") as gw:
        async with service(port):
            record, created = await gw.services.register(
                "weather",
                base_url=f"http://127.0.0.1:{port}/",
                tags=("meteo",),
                version="1.0",
                environment="test",
            )
            assert created
            assert record.manual_url == f"http://127.0.0.1:{port}/utcp"
            health = gw.services.health("weather")
            assert health["healthy"] is True
            assert health["tool_count"] == 2
            assert isinstance(health["latency_ms"], float)
            assert gw.admin.service_tools("weather") == [
                "weather__convert_currency",
                "weather__weather_forecast",
            ]
            entry = gw.catalog.resolve("weather__weather_forecast")
            assert entry is not None
            assert "meteo" in entry.doc.tags
            assert "weather__weather_forecast" in await search_names(gw, "weather forecast for a city")
            session = gw.new_session(transport="rest")
            result = await gw.calls.call(
                session, "weather__convert_currency", {"amount": 10, "from": "EUR", "to": "GBP"}
            )
            assert result.structured_content == {"amount": 8.5, "currency": "GBP"}
            stored = json.loads(gw.paths.services.read_text())
            assert stored["services"]["weather"]["tags"] == ["meteo"]
            assert stored["services"]["weather"]["environment"] == "test"

        # the service is gone: two failed checks later it is unhealthy and its tools leave search
        await wait_until(lambda: not gw.services.health("weather")["healthy"], timeout=15)
        assert gw.services.health("weather")["last_check_ok"] is False
        assert "weather__weather_forecast" not in await search_names(gw, "weather forecast for a city")
        assert gw.catalog.resolve("weather__weather_forecast") is not None  # kept, to come back

        async with service(port):
            await wait_until(lambda: gw.services.health("weather")["healthy"], timeout=15)
            assert "weather__weather_forecast" in await search_names(gw, "weather forecast for a city")
            _, created = await gw.services.register("weather", manual_url=f"http://127.0.0.1:{port}/utcp")
            assert not created  # a restarted service simply registers again


@pytest.mark.integration  # real process, socket or model
async def test_registrations_persist_and_deregister(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()  # nothing listens: registration is kept, the service is unhealthy
    async with gateway_at(home) as gw:
        record, created = await gw.services.register(
            "later", manual_url=f"http://127.0.0.1:{port}/utcp", wait=2
        )
        assert created
        health = gw.services.health("later")
        assert health["healthy"] is False
        assert health["state"] in ("failed", "starting")
        assert health["last_error"]
    async with gateway_at(home) as gw:
        assert [r.name for r in gw.services.all()] == ["later"]
        assert gw.pool.specs["later"].source == "service"
        assert gw.pool.specs["later"].health_interval == 0.2
        removed = await gw.services.deregister("later")
        assert removed.manual_url == record.manual_url
        assert "later" not in gw.pool.specs
        with pytest.raises(UnknownServerError):
            await gw.services.deregister("later")
        with pytest.raises(UnknownServerError):
            gw.services.get("later")
    async with gateway_at(home) as gw:
        assert gw.services.all() == []
        assert json.loads(gw.paths.services.read_text())["services"] == {}


@pytest.mark.integration  # real process, socket or model
async def test_refusals(tmp_path: Path) -> None:
    async with running_gateway([toy_server()], tmp_path / "home") as gw:
        with pytest.raises(DuplicateServerError):
            await gw.services.register("toy", manual_url="http://127.0.0.1:9/utcp", wait=0)
        for url, reason in [
            ("file:///etc/passwd", "scheme_not_allowed"),
            ("http://169.254.169.254/latest/meta-data", "metadata"),
            ("http://10.0.0.1/utcp", "private"),
        ]:
            with pytest.raises(UnsafeURLError) as info:
                await gw.services.register("evil", manual_url=url, wait=0)
            assert info.value.details["reason"] == reason
        with pytest.raises(RegistryError):
            await gw.services.register("bad name", manual_url="http://127.0.0.1:9/utcp", wait=0)
        with pytest.raises(RegistryError):
            await gw.services.register("nourl", wait=0)
        assert gw.services.all() == []
        assert not gw.paths.services.exists()


def test_corrupt_services_file_is_skipped(tmp_path: Path) -> None:
    from ucp.config.models import HttpSettings
    from ucp.config.paths import Paths
    from ucp.pool.pool import Pool
    from ucp.pool.services import SelfRegisteredServices

    paths = Paths(tmp_path).ensure()
    paths.services.write_text(
        json.dumps(
            {
                "version": 1,
                "services": {
                    "ok": {"name": "ok", "manual_url": "http://127.0.0.1:1/utcp"},
                    "file": {"name": "file", "manual_url": "/etc/passwd"},
                    "bad name": {"name": "bad name", "manual_url": "http://127.0.0.1:1/utcp"},
                    "extra": {"name": "extra", "manual_url": "http://127.0.0.1:1/utcp", "unknown": 1},
                },
            }
        )
    )

    def no_spec(_server: object) -> object:
        raise AssertionError("reading the file adds nothing to the pool")

    registry = SelfRegisteredServices(Pool(), paths.services, HttpSettings(), no_spec)  # type: ignore[arg-type]
    assert list(registry._read()) == ["ok"]
    paths.services.write_text("{not json")
    assert registry._read() == {}


@pytest.mark.integration  # real process, socket or model
async def test_a_lease_not_renewed_ends_and_survives_no_restart(tmp_path: Path) -> None:
    port = free_port()
    async with service(port), gateway_at(tmp_path) as gw:
        gw.services.reconcile_every = 0.2
        manual = f"http://127.0.0.1:{port}/utcp"
        record, _ = await gw.services.register("weather", manual_url=manual, ttl=0.6)
        assert record.ttl == 0.6 and "weather" in gw.pool.specs
        await gw.services.register("kept", manual_url=manual)
        await wait_until(lambda: "weather" not in gw.pool.specs, timeout=5, what="the lease ends")
        assert [r.name for r in gw.services.all()] == ["kept"]
    saved = json.loads((tmp_path / "services.json").read_text())
    assert sorted(saved["services"]) == ["kept"]
