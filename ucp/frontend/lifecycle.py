"""Liveness, readiness and the SIGTERM drain of an HTTP replica (what an orchestrator needs).

- ``/healthz`` is liveness: the process serves HTTP (it answers 200 while draining too, so an
  orchestrator does not restart a replica that is stopping on purpose).
- ``/readyz`` is readiness: 200 only when every configured server has been listed once (the
  catalog is loaded), the shared store answers (when there is one) and the replica is not
  draining; else 503 with the reasons. A load balancer sends new work only to ready replicas;
  a store outage makes every replica unready and each one ready again, by itself, once the
  store answers (each probe pings it).
- SIGTERM starts a drain (the CLI's SIGTERM handler calls ``start_drain``; ``DrainingServer``
  exits once it is done): readiness fails at once, requests that arrive
  from then on are answered 503 with ``Retry-After`` (they were not processed: a load balancer
  retries them on another replica, and a session resumes there), requests in flight are given
  up to ``[http] drain_s`` to finish, then the replica deregisters itself (its presence in the
  shared store), closes its streams (clients reconnect elsewhere) and exits: the whole stop is
  bounded by ``drain_s`` plus a few seconds.

A GET on ``/mcp`` is a client's notification stream, open for as long as the session lives: it
is not an in-flight call and the drain does not wait for it.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ucp.log import get_logger

log = get_logger("ucp.frontend.lifecycle")

PROBES = frozenset({"/healthz", "/readyz"})


@dataclass
class Lifecycle:
    """One replica's drain state and in-flight count (shared by the middleware, the probes and
    the uvicorn server)."""

    drain_s: float = 10.0
    in_flight: int = 0
    draining_since: float | None = None
    store_ping: Callable[[], Awaitable[bool]] | None = None
    catalog_loaded: Callable[[], bool] = lambda: True
    store_required: bool = True  # False: the store is reported, not required ([http] ready_requires_store)
    on_drained: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    finished: anyio.Event = field(default_factory=anyio.Event)  # set once the drain's hooks ran

    @property
    def draining(self) -> bool:
        return self.draining_since is not None

    def start_drain(self) -> None:
        """Idempotent; a second call (a second SIGTERM) ends the wait at once."""
        if self.draining_since is None:
            self.draining_since = time.monotonic()
            log.info("drain_started", in_flight=self.in_flight, deadline_s=self.drain_s)
        else:
            self.drain_s = 0.0

    def drained(self) -> bool:
        """Nothing in flight any more, or the deadline passed."""
        if self.draining_since is None:
            return False
        return self.in_flight <= 0 or time.monotonic() - self.draining_since >= self.drain_s

    async def finish(self) -> None:
        log.info(
            "drain_finished",
            abandoned=max(0, self.in_flight),
            seconds=round(time.monotonic() - (self.draining_since or time.monotonic()), 3),
        )
        for hook in self.on_drained:
            try:
                await hook()
            except Exception:
                log.exception("drain_hook_failed")
        self.finished.set()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {"draining": self.draining, "catalog_loaded": self.catalog_loaded()}
        if self.store_ping is not None:
            try:
                checks["store"] = await self.store_ping()
            except Exception:
                checks["store"] = False
        store_ok = checks.get("store", True) is True or not self.store_required
        ready = not checks["draining"] and checks["catalog_loaded"] and store_ok
        return ready, checks


async def readyz(request: Request) -> JSONResponse:
    lifecycle: Lifecycle = request.app.state.lifecycle
    ready, checks = await lifecycle.readiness()
    return JSONResponse(
        {"status": "ready" if ready else "unready", **checks}, status_code=200 if ready else 503
    )


def _counted(scope: Scope) -> bool:
    path = scope.get("path", "")
    if path in PROBES:
        return False
    return not (scope.get("method") == "GET" and path.rstrip("/") == "/mcp")  # a notification stream


class Drain:
    """ASGI middleware: counts requests in flight; while draining, refuses new ones with 503."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _counted(scope):
            await self.app(scope, receive, send)
            return
        if self.lifecycle.draining:
            body = json.dumps(
                {
                    "error": {
                        "code": "draining",
                        "message": "this replica is shutting down; retry (another one)",
                    }
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", b"1"),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        self.lifecycle.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.lifecycle.in_flight -= 1


def draining_server(config: Any, lifecycle: Lifecycle) -> Any:
    """A uvicorn server whose first SIGTERM drains (``Lifecycle``) before it exits."""
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # when uvicorn's handler is the one installed (the CLI's asyncio handler may replace it)
            if sig == signal.SIGTERM and lifecycle.drain_s > 0:
                lifecycle.start_drain()
                return
            super().handle_exit(sig, frame)

        async def on_tick(self, counter: int) -> bool:
            should_exit = bool(await super().on_tick(counter))
            if not should_exit and lifecycle.drained() and not lifecycle.finished.is_set():
                await lifecycle.finish()
                self.should_exit = True
                return True
            return should_exit

    return DrainingServer(config)
