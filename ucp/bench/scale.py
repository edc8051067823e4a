"""``ucp bench scale``: what running several replicas on Redis costs and buys, side by side in one run.

Three set-ups, each started from scratch, loaded the same way, then stopped (so they do not
share the machine with each other):

- ``1 replica, embedded``: one ``ucp serve --transport http``, sessions in its memory;
- ``1 replica, Redis``: the same on the shared backend (session snapshots read and written on
  every request, the change fan-out, shared learning and rate-limit buckets);
- ``3 replicas, Redis, HAProxy``: three replicas behind a round-robin HAProxy (no stickiness:
  consecutive requests of a session land on different replicas).

Load: ``sessions`` concurrent 2025-era MCP sessions (the SDK's own client over streamable
HTTP), each calling a trivial downstream tool (``echo``, stdio) in a closed loop for
``seconds``, after a warm-up. Reported: calls/s, p50/p99 latency, and the store's added
latency per call (p50 on Redis minus p50 embedded; plus the store round trips alone: one GET
and one SET of a typical snapshot, timed against the same Redis).

Then the kill run: the 3-replica set-up under the same load, one replica killed with SIGKILL a
third of the way in: calls attempted, failed (they can only be the ones in flight on it), and
the time until throughput (1 s window) is back to 90 % of what it was before the kill.

Everything (Redis, HAProxy, the replicas, the load clients) runs on this machine: with 2
cores, the replicas and the load generator compete for the same CPU, so "3 replicas" measures
the cost of the extra hop and the shared state, not a capacity gain.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2

from ucp.bench.cluster import PY, Cluster, Redis, cluster, free_port, replica_toml
from ucp.bench.proxy import percentile

ECHO = {"echo": {"command": PY, "args": ["-m", "ucp.bench.echo_server"]}}
TOOL = "echo__echo"


@asynccontextmanager
async def _session(url: str) -> AsyncIterator[Any]:
    import mcp_types as types
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=60))
    async with (
        http,
        Client(
            streamable_http_client(url + "/mcp", http_client=http),
            mode="legacy",
            client_info=types.Implementation(name="bench-scale", version="1"),
            read_timeout_seconds=30,
        ) as client,
    ):
        yield client


async def _load(
    url: str, sessions: int, seconds: float, *, kill: Any = None, kill_at: float | None = None
) -> dict[str, Any]:
    """``sessions`` closed-loop clients for ``seconds``; per call (start, end, ok)."""
    calls: list[tuple[float, float, bool]] = []
    opened = 0
    ready = anyio.Event()
    go = anyio.Event()
    stop_at: list[float] = []
    killed: list[float] = []

    async def one(i: int) -> None:
        nonlocal opened
        async with _session(url) as client:
            await client.list_tools()
            for _ in range(2):  # warm-up: the session is known to (at least) two replicas
                await client.call_tool(TOOL, {"text": "warm"})
            opened += 1
            if opened == sessions:
                ready.set()
            await go.wait()
            while time.monotonic() < stop_at[0]:
                started = time.monotonic()
                try:
                    r = await client.call_tool(TOOL, {"text": f"s{i}"})
                    ok = not r.is_error
                except Exception:
                    ok = False
                calls.append((started, time.monotonic(), ok))

    async with anyio.create_task_group() as tg:
        for i in range(sessions):
            tg.start_soon(one, i)
        with anyio.fail_after(120):
            await ready.wait()
        t0 = time.monotonic()
        stop_at.append(t0 + seconds)
        go.set()
        if kill is not None and kill_at is not None:
            await anyio.sleep(kill_at)
            await anyio.to_thread.run_sync(kill)
            killed.append(time.monotonic())
    return {"calls": calls, "t0": t0, "seconds": seconds, "killed_at": killed[0] if killed else None}


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    calls = run["calls"]
    ok = [(e - s) * 1000 for s, e, good in calls if good]
    return {
        "calls": len(calls),
        "failed": sum(1 for c in calls if not c[2]),
        "calls_per_s": round(len(ok) / run["seconds"], 1),
        "p50_ms": round(percentile(ok, 0.5), 2),
        "p99_ms": round(percentile(ok, 0.99), 2),
    }


def _kill_summary(run: dict[str, Any], window: float = 1.0) -> dict[str, Any]:
    calls, t0, t_kill = run["calls"], run["t0"], run["killed_at"]
    assert t_kill is not None
    done = sorted(e for _, e, ok in calls if ok)

    def rate(a: float, b: float) -> float:
        return sum(1 for e in done if a <= e < b) / (b - a)

    before = rate(max(t0, t_kill - 2.0), t_kill)
    back: float | None = None
    t = t_kill
    end = t0 + run["seconds"]
    while t + window <= end:
        if rate(t, t + window) >= 0.9 * before:
            back = t + window - t_kill
            break
        t += 0.1
    in_flight = sum(1 for s, e, _ in calls if s <= t_kill <= e)
    failed = [c for c in calls if not c[2]]
    return {
        "calls": len(calls),
        "failed": len(failed),
        "in_flight_at_kill": in_flight,
        "failed_after_kill_started": sum(1 for s, _, _ in failed if s > t_kill),
        "calls_per_s_before": round(before, 1),
        "calls_per_s_after": round(rate(t_kill, end), 1),
        "back_to_90pct_s": round(back, 2) if back is not None else None,
    }


async def _store_roundtrip(redis_url: str, n: int = 300) -> dict[str, float]:
    """One GET and one SET of a typical session snapshot (what each request adds), timed alone."""
    import json

    import redis.asyncio as aredis

    from ucp.session.snapshot import snapshot_of
    from ucp.session.state import HistoryItem, Session

    session = Session(client_name="bench", protocol_version="2025-11-25", transport="http")
    for i in range(40):
        session.record(HistoryItem(kind="call", at=float(i), tool=TOOL, outcome="ok", duration_ms=1.0))
    blob = json.dumps(snapshot_of(session))
    client = aredis.from_url(redis_url)
    try:
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            await client.get("ucp:sess:bench")
            await client.set("ucp:sess:bench", blob, ex=600)
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await client.aclose()
    return {"p50_ms": round(percentile(samples, 0.5), 3), "snapshot_bytes": len(blob)}


def run_scale_bench(*, sessions: int = 50, seconds: float = 8.0, kill_seconds: float = 9.0) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ucp-bench-scale-"))
    redis = Redis(free_port(), work / "redis")
    redis.start()
    results: dict[str, Any] = {"rows": []}
    try:
        setups = [
            ("1 replica, embedded", 1, False, False),
            ("1 replica, Redis", 1, True, False),
            ("3 replicas, Redis, HAProxy", 3, True, True),
        ]
        for label, n, shared, lb in setups:
            redis_url = redis.url if shared else None
            toml = replica_toml(servers=ECHO, redis_url=redis_url, drain_s=2.0)
            with cluster(
                work / label.replace(" ", "_").replace(",", ""),
                n,
                toml=toml,
                redis_url=redis_url,
                balancer=lb,
            ) as c:
                run = anyio.run(_load, c.url, sessions, seconds)
                results["rows"].append({"setup": label, "replicas": n, **_summary(run)})
        base = results["rows"][0]
        for row in results["rows"]:
            row["x_embedded_calls_per_s"] = round(row["calls_per_s"] / base["calls_per_s"], 2)
            row["added_p50_ms"] = round(row["p50_ms"] - base["p50_ms"], 2)
        results["store_roundtrip"] = anyio.run(_store_roundtrip, redis.url)
        toml = replica_toml(servers=ECHO, redis_url=redis.url, drain_s=2.0)
        with cluster(work / "kill", 3, toml=toml, redis_url=redis.url, balancer=True) as c:
            victim: Cluster = c
            run = anyio.run(
                lambda: _load(
                    victim.url, sessions, kill_seconds, kill=victim.replicas[2].kill, kill_at=kill_seconds / 3
                )
            )
            results["kill"] = _kill_summary(run)
    finally:
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["sessions"] = sessions
    results["seconds"] = seconds
    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other work), Python {platform.python_version()}; "
        "replicas, Redis, HAProxy and the load clients all on this machine"
    )
    results["median_p50_ms"] = statistics.median(r["p50_ms"] for r in results["rows"])
    return results
