"""Issue 12 at the pool: bad input stays with its caller, deadlines hold, flapping servers park,
results are capped, a trust guard refuses calls. In memory (tests/fakes.py)."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import mcp_types as types
import pytest

from tests.fakes import FakeTransport, tool
from tests.helpers import wait_until
from ucp.config.models import PoolSettings
from ucp.errors import (
    DownstreamProtocolError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
    InvalidArgumentsError,
    ToolWithheldError,
)
from ucp.pool.arguments import check_arguments
from ucp.pool.pool import Pool, ServerSpec

pytestmark = pytest.mark.anyio

FAST = PoolSettings(backoff_initial=0.01, backoff_max=0.05, health_interval=30, acquire_timeout=30)


async def test_a_lone_surrogate_is_refused_before_it_reaches_the_shared_connection() -> None:
    transport = FakeTransport(tools=[tool("get_current_time", timezone="string")])
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("time", transport))
        await pool.wait_initial(5)
        with pytest.raises(InvalidArgumentsError) as info:
            await pool.call_tool("time", "get_current_time", {"timezone": "\udfff"})
        assert info.value.details["field"] == "timezone"
        assert transport.calls == []  # nothing was sent
        ok = await pool.call_tool("time", "get_current_time", {"timezone": "UTC"})
        assert not ok.is_error
        assert transport.connects == 1  # the connection was never torn down


def test_argument_checks_name_the_field_and_bound_depth() -> None:
    with pytest.raises(InvalidArgumentsError) as info:
        check_arguments({"a": [{"b": "ok"}, {"c": "\ud800x"}]}, server="s", tool="t")
    assert info.value.details["field"] == "a[1].c"
    with pytest.raises(InvalidArgumentsError):
        check_arguments({"\udfff": 1}, server="s", tool="t")
    deep: object = "x"
    for _ in range(100):
        deep = [deep]
    with pytest.raises(InvalidArgumentsError):
        check_arguments({"d": deep}, server="s", tool="t")
    check_arguments({"emoji": "\U0001f600", "n": 1, "l": [1, None]}, server="s", tool="t")


async def test_the_timeout_is_a_deadline_on_the_whole_call_including_the_queue() -> None:
    transport = FakeTransport()
    transport.gate = anyio.Event()  # every call hangs
    async with Pool(FAST) as pool:
        pool.add(ServerSpec("hung", transport, timeout=0.4, max_concurrency=1))
        await pool.wait_initial(5)
        took: list[float] = []

        async def one() -> None:
            started = time.perf_counter()
            with pytest.raises(DownstreamTimeoutError):
                await pool.call_tool("hung", "echo", {"text": "x"})
            took.append(time.perf_counter() - started)

        async with anyio.create_task_group() as tg:
            for _ in range(3):  # two of them wait for the single slot
                tg.start_soon(one)
        assert len(took) == 3
        assert max(took) < 0.4 + 0.3  # before: queued calls took up to twice the timeout
        transport.gate.set()


async def test_a_hung_server_is_probed_after_a_timeout_and_restarted() -> None:
    transport = FakeTransport()
    transport.gate = anyio.Event()
    async with Pool(FAST) as pool:  # health checks every 30 s: only the probe can notice
        pool.add(ServerSpec("frozen", transport, timeout=0.2))
        await pool.wait_initial(5)
        transport.ping_fails = True
        with pytest.raises(DownstreamTimeoutError):
            await pool.call_tool("frozen", "echo", {"text": "x"})
        await wait_until(lambda: transport.connects >= 2, timeout=5)
        assert "not answering" in (pool.get("frozen").last_error or "") or pool.get("frozen").restarts >= 1
        transport.gate.set()


async def test_a_server_that_keeps_dying_right_away_is_parked_until_unparked(tmp_path: Path) -> None:
    transport = FakeTransport()
    transport.fail_connects = 10**6
    settings = PoolSettings(backoff_initial=0.01, backoff_max=0.02, park_after=4, fast_failure_s=5)
    enable_dir = tmp_path / "enable"
    async with Pool(settings, enable_dir=enable_dir) as pool:
        pool.add(ServerSpec("flappy", transport))
        await wait_until(lambda: pool.get("flappy").state == "parked", timeout=5)
        connects = transport.connects
        assert connects == 4
        await anyio.sleep(0.3)
        assert transport.connects == connects  # parked: no more attempts
        with pytest.raises(DownstreamUnavailableError) as info:
            await pool.call_tool("flappy", "echo", {})
        assert info.value.details["state"] == "parked"
        assert "ucp registry enable flappy" in info.value.message
        assert {s.name: s.state for s in pool.status()}["flappy"] == "parked"
        transport.fail_connects = 0
        enable_dir.mkdir()
        (enable_dir / "flappy").write_text("")  # what `ucp registry enable flappy` drops
        await wait_until(lambda: pool.get("flappy").healthy, timeout=5)
        assert not (enable_dir / "flappy").exists()


async def test_a_server_dropping_right_after_its_handshake_backs_off_instead_of_spinning() -> None:
    transport = FakeTransport()
    settings = PoolSettings(backoff_initial=0.05, backoff_max=10, park_after=0, fast_failure_s=5)
    async with Pool(settings) as pool:
        pool.add(ServerSpec("drop", transport))
        started = time.perf_counter()
        while time.perf_counter() - started < 1.0:
            await wait_until(lambda: transport.session is not None and pool.get("drop").healthy, timeout=5)
            transport.drop()
            await anyio.sleep(0.01)
        # before: every drop reset the backoff to its first delay: ~17 connects in this second. With
        # the growing backoff the shortest delays (equal jitter: half of each step is fixed) add up
        # to 0.025 + 0.05 + 0.1 + 0.2 + 0.4 s, so at most 6 restarts fit: 7 connects.
        assert transport.connects <= 7


async def test_results_over_the_cap_are_an_error() -> None:
    transport = FakeTransport()
    transport.results["echo"] = types.CallToolResult(
        content=[types.TextContent(type="text", text="y" * 5000)]
    )
    async with Pool(PoolSettings(max_result_bytes=1024)) as pool:
        pool.add(ServerSpec("big", transport))
        await pool.wait_initial(5)
        with pytest.raises(DownstreamProtocolError) as info:
            await pool.call_tool("big", "echo", {})
        assert info.value.details["limit"] == 1024


async def test_a_guard_refuses_a_call_before_it_is_sent() -> None:
    transport = FakeTransport()

    def guard(server: str, name: str) -> None:
        if name == "echo":
            raise ToolWithheldError("withheld", tool=f"{server}__{name}")

    async with Pool(FAST) as pool:
        pool.guard = guard
        pool.add(ServerSpec("s", transport))
        await pool.wait_initial(5)
        with pytest.raises(ToolWithheldError):
            await pool.call_tool("s", "echo", {})
        assert transport.calls == []
