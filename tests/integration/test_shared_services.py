"""Self-registered services shared through Redis: registered via one replica, served by every one;
deregistered via another; a lease not renewed expires on all of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import running_gateway, wait_until
from tests.integration.stores import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SERVICE = Path(__file__).resolve().parents[1] / "servers" / "utcp_service.py"


async def test_registry_is_shared_and_leases_expire(tmp_path: Path, redis_url: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVICE), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    settings: dict[str, Any] = {
        "state": {"backend": "redis", "redis_url": redis_url},
        "learning": {"enabled": False},
    }
    manual = f"http://127.0.0.1:{port}/utcp"
    try:
        from tests.integration.stores import _wait_port

        _wait_port(port, proc, "utcp service")  # type: ignore[arg-type]
        async with (
            running_gateway([], tmp_path / "a", **settings) as a,
            running_gateway([], tmp_path / "b", **settings) as b,
        ):
            for gw in (a, b):
                gw.services.reconcile_every = 0.3
            await a.services.register("weather", manual_url=manual)
            await wait_until(lambda: "weather" in b.pool.specs, timeout=5, what="B serves A's registration")
            await wait_until(
                lambda: len(b.pool.connections["weather"].snapshot.tools) == 2, what="B lists it"
            )
            assert not (tmp_path / "b" / "services.json").exists()  # the registry is Redis, not the home
            await b.services.deregister("weather")  # registered through A, deregistered through B
            await wait_until(lambda: "weather" not in a.pool.specs, timeout=5, what="A drops it")
            # a lease: gone from both once it is not renewed
            await b.services.register("leased", manual_url=manual, ttl=1.0)
            await wait_until(lambda: "leased" in a.pool.specs, timeout=5, what="A serves the lease")
            with anyio.fail_after(6):
                while "leased" in a.pool.specs or "leased" in b.pool.specs:
                    await anyio.sleep(0.1)
            assert a.services.all() == [] and b.services.all() == []
    finally:
        proc.kill()
        proc.wait(10)
