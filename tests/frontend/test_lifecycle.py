"""Readiness and the drain, in memory: /readyz fails while the catalog loads, while the store is
down and while draining (and recovers by itself); a draining replica refuses new requests with a
retryable 503 but lets the one in flight finish; notification streams and probes are not counted."""

from __future__ import annotations

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ucp.frontend.lifecycle import Drain, Lifecycle, readyz

pytestmark = pytest.mark.anyio


def _app(lifecycle: Lifecycle, release: anyio.Event, started: anyio.Event) -> Starlette:
    async def slow(request: Request) -> JSONResponse:
        started.set()
        await release.wait()
        return JSONResponse({"done": True})

    async def stream(request: Request) -> JSONResponse:
        return JSONResponse({"stream": True})

    app = Starlette(
        routes=[
            Route("/readyz", readyz),
            Route("/api/slow", slow, methods=["POST"]),
            Route("/mcp", stream, methods=["GET"]),
        ]
    )
    app.state.lifecycle = lifecycle
    app.add_middleware(Drain, lifecycle=lifecycle)
    return app


async def test_readiness_follows_the_catalog_the_store_and_the_drain() -> None:
    store_up = True
    loaded = False

    async def ping() -> bool:
        return store_up

    lifecycle = Lifecycle(drain_s=5, store_ping=ping, catalog_loaded=lambda: loaded)
    app = _app(lifecycle, anyio.Event(), anyio.Event())
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as http:
        r = await http.get("/readyz")
        assert r.status_code == 503 and r.json()["catalog_loaded"] is False
        loaded = True
        assert (await http.get("/readyz")).status_code == 200
        store_up = False
        r = await http.get("/readyz")
        assert r.status_code == 503 and r.json()["store"] is False
        store_up = True  # recovers by itself: every probe pings
        assert (await http.get("/readyz")).json() == {
            "status": "ready",
            "draining": False,
            "catalog_loaded": True,
            "store": True,
        }
        lifecycle.start_drain()
        r = await http.get("/readyz")
        assert r.status_code == 503 and r.json()["draining"] is True


async def test_a_drain_refuses_new_work_and_waits_for_the_call_in_flight() -> None:
    lifecycle = Lifecycle(drain_s=30)
    release, started = anyio.Event(), anyio.Event()
    app = _app(lifecycle, release, started)
    results: list[int] = []
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as http:

        async def in_flight() -> None:
            results.append((await http.post("/api/slow")).status_code)

        async with anyio.create_task_group() as tg:
            tg.start_soon(in_flight)
            await started.wait()
            assert lifecycle.in_flight == 1
            assert (await http.get("/mcp")).status_code == 200  # a stream: not counted
            assert lifecycle.in_flight == 1
            lifecycle.start_drain()
            refused = await http.post("/api/slow")
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["code"] == "draining"
            assert not lifecycle.drained()  # the call in flight holds the exit
            release.set()
        assert results == [200]
        assert lifecycle.in_flight == 0 and lifecycle.drained()


async def test_the_drain_deadline_ends_the_wait_and_runs_the_hooks() -> None:
    calls: list[str] = []

    async def deregister() -> None:
        calls.append("deregistered")

    lifecycle = Lifecycle(drain_s=0.05, on_drained=[deregister])
    lifecycle.in_flight = 1  # a call that never finishes
    lifecycle.start_drain()
    assert not lifecycle.drained()
    await anyio.sleep(0.06)
    assert lifecycle.drained()
    await lifecycle.finish()
    assert calls == ["deregistered"]


async def test_a_store_that_is_reported_but_not_required() -> None:
    async def down() -> bool:
        return False

    ready, checks = await Lifecycle(store_ping=down, store_required=False).readiness()
    assert ready and checks["store"] is False
