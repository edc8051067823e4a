"""Last-known lists: a restart lists every server at once, then revalidates live."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from structlog.testing import capture_logs

from tests.fakes import FakeTransport, tool
from tests.helpers import wait_until
from ucp.config.models import PoolSettings
from ucp.pool.connection import Snapshot
from ucp.pool.listcache import ListCache
from ucp.pool.pool import Pool, ServerSpec

pytestmark = pytest.mark.anyio

FAST = PoolSettings(backoff_initial=0.01, backoff_max=0.05, health_interval=5, acquire_timeout=1)


def _names(tools: list[types.Tool]) -> list[str]:
    return [t.name for t in tools]


def _slow(*names: str) -> FakeTransport:
    """A server that connects only once its ``connect_gate`` is set."""
    transport = FakeTransport(tools=[tool(n) for n in names])
    transport.connect_gate = anyio.Event()
    return transport


def _cache_with(tmp_path: Path, *names: str) -> ListCache:
    cache = ListCache(tmp_path)
    cache.save("f", "fp", Snapshot(tools=[tool(n) for n in names]))
    return cache


def test_round_trip_keeps_schemas_and_prompts(tmp_path: Path) -> None:
    cache = ListCache(tmp_path)
    snap = Snapshot(
        tools=[tool("search", query="string")],
        prompts=[types.Prompt(name="greet", arguments=[types.PromptArgument(name="who", required=True)])],
    )
    cache.save("srv", "fp1", snap)
    back = cache.load("srv", "fp1")
    assert back is not None
    assert back.tools[0].input_schema == snap.tools[0].input_schema
    assert back.prompts[0].arguments is not None and back.prompts[0].arguments[0].name == "who"


def test_unchanged_lists_are_not_rewritten(tmp_path: Path) -> None:
    cache = ListCache(tmp_path)
    cache.save("srv", "fp1", Snapshot(tools=[tool("a")]))
    inode = (tmp_path / "srv.json").stat().st_ino  # each write is a new file renamed over the old one
    cache.save("srv", "fp1", Snapshot(tools=[tool("a")]))
    assert (tmp_path / "srv.json").stat().st_ino == inode
    restarted = ListCache(tmp_path)
    snap = restarted.load("srv", "fp1")
    assert snap is not None
    restarted.save("srv", "fp1", snap)  # the live lists equal the last-known ones
    assert (tmp_path / "srv.json").stat().st_ino == inode
    restarted.save("srv", "fp1", Snapshot(tools=[tool("a"), tool("b")]))
    assert (tmp_path / "srv.json").stat().st_ino != inode


def test_other_fingerprint_or_name_is_not_served(tmp_path: Path) -> None:
    cache = ListCache(tmp_path)
    cache.save("srv", "fp1", Snapshot(tools=[tool("a")]))
    assert cache.load("srv", "fp2") is None  # the server's registry entry changed
    assert cache.load("other", "fp1") is None
    cache.save("../escape", "fp1", Snapshot(tools=[tool("a")]))
    assert not (tmp_path.parent / "escape.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["srv.json"]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"format": 99}',
        '{"format": 1, "fingerprint": "fp1", "tools": [{"name": 5}]}',
        '{"format": 1, "fingerprint": "fp1", "tools": {}}',
    ],
)
def test_a_broken_file_is_ignored_with_a_warning(tmp_path: Path, content: str) -> None:
    (tmp_path / "srv.json").write_text(content)
    with capture_logs() as logs:
        assert ListCache(tmp_path).load("srv", "fp1") is None
    assert any(e["event"] == "list_cache_ignored" and e["server"] == "srv" for e in logs)


async def test_restart_lists_from_cache_then_revalidates_live(tmp_path: Path) -> None:
    cache = ListCache(tmp_path)
    first = FakeTransport(tools=[tool("a"), tool("b")])
    async with Pool(FAST, list_cache=cache) as pool:
        pool.add(ServerSpec("f", first, fingerprint="fp"))
        await pool.wait_initial(5)
    assert _names(
        [types.Tool.model_validate(t) for t in json.loads((tmp_path / "f.json").read_text())["tools"]]
    ) == ["a", "b"]

    slow = _slow("a", "c")  # changed while UCP was down, and slow to start
    events: list[set[str]] = []
    async with Pool(FAST, list_cache=cache) as pool:
        pool.events.subscribe(lambda c: events.append(set(c.kinds)))
        pool.add(ServerSpec("f", slow, fingerprint="fp"))
        with anyio.fail_after(1):
            await pool.wait_initial(30)  # answered from the last-known lists: no wait for the server
        conn = pool.get("f")
        assert conn.state == "starting"
        assert _names(conn.snapshot.tools) == ["a", "b"]
        assert {"tools", "resources", "prompts"} in events

        results: list[types.CallToolResult] = []

        async def call() -> None:
            results.append(await pool.call_tool("f", "a", {}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(call)  # a host calls a tool it was just shown: waits for the connection
            await anyio.sleep(0.1)
            assert not results
            slow.connect_gate.set()
        assert not results[0].is_error
        assert _names(conn.snapshot.tools) == ["a", "c"]
        assert any({"state", "tools"} <= k for k in events)
    saved = json.loads((tmp_path / "f.json").read_text())
    assert [t["name"] for t in saved["tools"]] == ["a", "c"]


async def test_live_wait_ignores_the_cache_and_changed_config_is_not_seeded(tmp_path: Path) -> None:
    cache = _cache_with(tmp_path, "old")
    slow = _slow("new")
    async with Pool(FAST, list_cache=cache) as pool:
        pool.add(ServerSpec("f", slow, fingerprint="fp"))
        with anyio.move_on_after(0.3) as scope:
            await pool.wait_initial(30, live=True)  # one-shot CLI commands want the live lists
        assert scope.cancelled_caught
        slow.connect_gate.set()
        await pool.wait_initial(5, live=True)
        assert _names(pool.get("f").snapshot.tools) == ["new"]

    other = _slow("x")
    async with Pool(FAST, list_cache=cache) as pool:
        pool.add(ServerSpec("f", other, fingerprint="edited"))
        assert pool.get("f").snapshot.tools == []
        other.connect_gate.set()
        await wait_until(lambda: pool.get("f").healthy)


async def test_a_call_to_a_server_that_never_comes_up_fails_within_its_timeout(tmp_path: Path) -> None:
    cache = _cache_with(tmp_path, "a")
    stuck = _slow("a")
    async with Pool(FAST, list_cache=cache) as pool:
        pool.add(ServerSpec("f", stuck, fingerprint="fp"))
        await pool.wait_initial(1)
        with anyio.fail_after(3):
            with pytest.raises(Exception) as info:
                await pool.call_tool("f", "a", {}, timeout=0.3)
        assert "starting" in str(info.value)
        stuck.connect_gate.set()


async def test_removing_a_server_forgets_its_lists_and_builtins_are_not_cached(tmp_path: Path) -> None:
    cache = ListCache(tmp_path)
    async with Pool(FAST, list_cache=cache) as pool:
        pool.add(ServerSpec("f", FakeTransport(), fingerprint="fp"))
        pool.add(ServerSpec("b", FakeTransport(), fingerprint="fp", source="builtin"))
        await pool.wait_initial(5)
        assert (tmp_path / "f.json").exists() and not (tmp_path / "b.json").exists()
        await pool.remove("f")
        assert not (tmp_path / "f.json").exists()


async def test_cache_lists_off(tmp_path: Path) -> None:
    cache = ListCache(tmp_path)
    async with Pool(FAST.model_copy(update={"cache_lists": False}), list_cache=cache) as pool:
        pool.add(ServerSpec("f", FakeTransport(), fingerprint="fp"))
        await pool.wait_initial(5)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "content",
    [b'{"format": 1, "server": "s\xff"}', b"[" * 100_000, b'{"format": 1, "tools": [', b"\x00\x01"],
)
def test_a_corrupt_cache_file_is_ignored_not_fatal(tmp_path: Path, content: bytes) -> None:
    """Issue 12 item 5: one non-UTF-8 byte made every `ucp serve` exit 1 with a traceback."""
    cache = ListCache(tmp_path)
    (tmp_path / "s.json").write_bytes(content)
    assert cache.load("s", "fp") is None
