"""AdminFacade: health counts and service tools as the operator sees them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import FakeTransport, tool
from ucp.app import Gateway
from ucp.config.models import Config
from ucp.config.paths import Paths
from ucp.errors import UnknownServerError
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio


async def test_health_servers_and_services(tmp_path: Path) -> None:
    async with Gateway(Config(builtins=False), Paths(tmp_path).ensure(), dense=False) as gw:
        up, down = FakeTransport(tools=[tool("a"), tool("b")]), FakeTransport(tools=[tool("c")])
        down.fail_connects = 1000
        gw.pool.add(ServerSpec("up", up))
        gw.pool.add(ServerSpec("down", down))
        await gw.wait_ready(5, live=True)
        gw.api.open()
        health = gw.admin.health()
        assert (health.servers_total, health.servers_healthy, health.tools, health.sessions) == (2, 1, 2, 1)
        assert health.dense_ready is False and health.changed_definitions == 0
        states = {s["name"]: s["state"] for s in gw.admin.servers()}
        assert states["up"] == "ready" and states["down"] in {"failed", "restarting", "starting"}
        assert gw.admin.service_tools("up") == ["up__a", "up__b"]
        assert gw.admin.services() == []
        with pytest.raises(UnknownServerError):
            gw.admin.service("nope")
        assert gw.admin.service_health("nope")["state"] == "absent"
