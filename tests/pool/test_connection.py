"""Connection lifecycle with an in-memory transport: restarts, outages, limits, refresh, health."""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest

from tests.fakes import FakeTransport, tool
from tests.helpers import wait_until
from ucp.config.models import PoolSettings
from ucp.errors import DownstreamBusyError, DownstreamUnavailableError
from ucp.pool.pool import Pool, ServerSpec

pytestmark = pytest.mark.anyio

FAST = PoolSettings(backoff_initial=0.01, backoff_max=0.05, health_interval=0.05, acquire_timeout=0.2)


async def test_connects_lists_and_reports_changes() -> None:
    transport = FakeTransport(tools=[tool("a"), tool("b")])
    events: list[tuple[str, set[str]]] = []
    async with Pool(FAST) as pool:
        pool.events.subscribe(lambda c: events.append((c.server, set(c.kinds))))
        pool.add(ServerSpec("f", transport))
        await pool.wait_initial(5)
        conn = pool.get("f")
        assert conn.healthy
        assert [t.name for t in conn.snapshot.tools] == ["a", "b"]
        assert ("f", {"state", "tools", "resources", "prompts"}) in events


async def test_restarts_after_the_connection_drops() -> None:
    transport = FakeTransport()
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("f", transport))
        await pool.wait_initial(5)
        transport.drop()
        await wait_until(lambda: transport.connects >= 2 and pool.get("f").healthy)
        assert pool.get("f").restarts >= 1
        result = await pool.call_tool("f", "echo", {"text": "hi"})
        assert not result.is_error


async def test_calls_during_an_outage_name_server_and_state() -> None:
    transport = FakeTransport()
    transport.fail_connects = 10**6
    async with Pool(PoolSettings(backoff_initial=5, backoff_max=5)) as pool:
        pool.add(ServerSpec("down", transport))
        await pool.wait_initial(5)
        with pytest.raises(DownstreamUnavailableError) as info:
            await pool.call_tool("down", "echo", {})
        assert info.value.server == "down"
        assert info.value.details["state"] == "failed"
        assert "next attempt in" in info.value.message
        assert "cannot connect" in info.value.message
        status = {s.name: s for s in pool.status()}["down"]
        assert not status.healthy
        assert status.last_error


async def test_recovers_after_failed_connects() -> None:
    transport = FakeTransport()
    transport.fail_connects = 3
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("f", transport))
        await wait_until(lambda: pool.get("f").healthy)
        assert transport.connects == 4


async def test_concurrency_limit_makes_callers_wait_then_busy() -> None:
    transport = FakeTransport()
    transport.gate = anyio.Event()
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("f", transport, max_concurrency=1))
        await pool.wait_initial(5)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pool.call_tool, "f", "echo", {"n": 1})
            await wait_until(lambda: len(transport.calls) == 1)
            with pytest.raises(DownstreamBusyError):
                await pool.call_tool("f", "echo", {"n": 2})
            transport.gate.set()
        assert len(transport.calls) == 1


async def test_list_changed_triggers_a_refresh() -> None:
    transport = FakeTransport(tools=[tool("a")])
    async with Pool(FAST) as pool:
        changes: list[set[str]] = []
        pool.events.subscribe(lambda c: changes.append(set(c.kinds)))
        pool.add(ServerSpec("f", transport))
        await pool.wait_initial(5)
        transport.tools = [tool("a"), tool("c")]
        assert transport.events is not None
        transport.events.list_changed("tools")
        await wait_until(lambda: [t.name for t in pool.get("f").snapshot.tools] == ["a", "c"])
        assert {"tools"} in changes


async def test_failing_health_checks_restart_the_connection() -> None:
    transport = FakeTransport()
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("f", transport))
        await pool.wait_initial(5)
        transport.ping_fails = True
        await wait_until(lambda: transport.connects >= 2)
        transport.ping_fails = False
        await wait_until(lambda: pool.get("f").healthy)
        assert "health check" in (pool.get("f").last_error or "") or pool.get("f").restarts >= 1


async def test_remove_stops_the_connection() -> None:
    transport = FakeTransport()
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("f", transport))
        await pool.wait_initial(5)
        await pool.remove("f")
        assert "f" not in pool.connections
        assert transport.session is not None and transport.session.closed.is_set()
        with pytest.raises(DownstreamUnavailableError):
            await pool.call_tool("f", "echo", {})


async def test_output_schema_mismatch_passes_through_and_withdraws_schema() -> None:
    strict = types.Tool(
        name="count",
        input_schema={"type": "object"},
        output_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    )
    transport = FakeTransport(tools=[strict])
    transport.results["count"] = types.CallToolResult(content=[], structured_content={"n": "many"})
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("f", transport))
        await pool.wait_initial(5)
        result = await pool.call_tool("f", "count", {})
        assert result.structured_content == {"n": "many"}
        assert pool.outputs.is_withdrawn("f", "count")
