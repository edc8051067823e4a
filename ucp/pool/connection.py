"""One downstream connection: its lifecycle, restarts, health and concurrency limit.

``Connection.run`` is the one task that owns the connection: it enters the
transport, fetches every list, serves until the connection drops (or a health
check fails, or it is stopped) and restarts with exponential backoff and
jitter. Calls made while the server is down get a ``DownstreamUnavailableError``
that names the server and its state; the pool turns it into an ``is_error``
result. Nothing a downstream does can raise out of ``run``.

Bounds that hold whatever the downstream does:
- the per-call timeout is a deadline on the whole call (waiting for the connection, for a
  concurrency slot, and the call itself); a call that hits it triggers a quick liveness
  probe, so a frozen server is restarted within seconds, not at the next health check;
- arguments that cannot be encoded (lone surrogates) are refused before anything is sent
  (``arguments.py``), and results over ``[pool] max_result_bytes`` become an error;
- a connection that fails or drops within ``fast_failure_s`` keeps its backoff growing
  (no reset to the first delay), and after ``park_after`` such failures in a row the server
  is **parked**: no more restarts, CPU or log lines until ``unpark()`` (its config changes,
  or ``ucp registry enable NAME``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import mcp_types as types

from ucp.config.models import PoolSettings
from ucp.downstream.base import CallHooks, DownstreamSession, Elicitor, ListKind, Transport
from ucp.errors import (
    DownstreamBusyError,
    DownstreamError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
    UCPError,
)
from ucp.events import LISTS, Change, ChangeKind
from ucp.log import get_logger, log_tracebacks, mask_secrets
from ucp.pool.arguments import check_arguments, check_result
from ucp.pool.backoff import backoff_delay

log = get_logger("ucp.pool")

State = Literal["starting", "ready", "restarting", "failed", "parked", "stopped"]
PROBE_TIMEOUT = 5.0
Clock = Callable[[], float]


@dataclass
class Snapshot:
    """What a server offered at its last successful listing (kept while it is down)."""

    tools: list[types.Tool] = field(default_factory=list)
    resources: list[types.Resource] = field(default_factory=list)
    templates: list[types.ResourceTemplate] = field(default_factory=list)
    prompts: list[types.Prompt] = field(default_factory=list)
    _by_name: dict[str, types.Tool] | None = field(default=None, init=False, repr=False, compare=False)

    def tool(self, name: str) -> types.Tool | None:
        """The listed tool ``name`` (an index built once per snapshot: the call path asks per call)."""
        if self._by_name is None:
            self._by_name = {t.name: t for t in self.tools}
        return self._by_name.get(name)


class Connection:
    def __init__(
        self,
        name: str,
        transport: Transport,
        *,
        settings: PoolSettings,
        timeout: float,
        max_concurrency: int,
        on_change: Callable[[Change], None],
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        health_interval: float | None = None,
    ) -> None:
        self.name = name
        self.transport = transport
        self.settings = settings
        self.timeout = timeout
        self.state: State = "starting"
        self.snapshot = Snapshot()
        self.session: DownstreamSession | None = None
        self.last_error: str | None = None
        self.restarts = 0
        self.connected_at: float | None = None
        self.next_retry_at: float | None = None
        self.calls = 0
        self.failures = 0
        self.server_info = ""
        self.first_attempt_done = anyio.Event()
        self.listed = anyio.Event()  # lists known: live (first attempt done) or last-known (seeded)
        self.health_interval = health_interval or settings.health_interval
        self.last_check_at: float | None = None  # wall clock (time.time) of the last connect or health check
        self.last_check_ok: bool | None = None
        self.last_latency_ms: float | None = None
        self.max_concurrency = max_concurrency
        self._limiter = anyio.Semaphore(max_concurrency)
        self._on_change = on_change
        self._clock = clock
        self._rng = rng or random.Random()
        self._stop = anyio.Event()
        self._dirty: set[ListKind] = set()
        self._dirty_event = anyio.Event()
        self._restart_requested = anyio.Event()
        self._elicitors: list[Elicitor] = []
        self._probe_requested = anyio.Event()
        self._unpark = anyio.Event()
        self.fast_failures = 0
        self.guard: Callable[[str, str], None] | None = None  # raises to refuse a call (trust)
        self.subscriptions: set[str] = set()  # resource URIs (the server's own) clients subscribed to

    # ------------------------------------------------------------ events from the downstream
    def list_changed(self, kind: ListKind) -> None:
        self._dirty.add(kind)
        self._dirty_event.set()

    def resource_updated(self, uri: str) -> None:
        self._on_change(Change.of(self.name, ChangeKind.RESOURCE_UPDATED, uri=uri))

    async def elicit(self, params: types.ElicitRequestParams) -> types.ElicitResult:
        """Forward to the most recent in-flight upstream call that can ask its user; else decline.

        The SDK calls the elicitation callback outside the calling task (contextvars do
        not reach it), so the connection tracks which upstream calls are in flight.
        """
        if not self._elicitors:
            log.info(
                "downstream_elicitation_declined",
                server=self.name,
                reason="no upstream call can ask its user",
            )
            return types.ElicitResult(action="decline")
        return await self._elicitors[-1](params)

    def seed(self, snapshot: Snapshot) -> None:
        """Start from last-known lists (``listcache``): listed now, replaced when the server connects."""
        if self.state == "starting" and not self.first_attempt_done.is_set():
            self.snapshot = snapshot
            self.listed.set()

    # ------------------------------------------------------------ lifecycle
    @property
    def healthy(self) -> bool:
        return self.state == "ready"

    def stop(self) -> None:
        self._stop.set()

    @property
    def parked(self) -> bool:
        return self.state == "parked"

    def unpark(self) -> bool:
        """Retry a parked server now (an operator re-enabled it). False if it was not parked."""
        if self.state != "parked":
            return False
        self._unpark.set()
        return True

    def request_restart(self, reason: str) -> None:
        if self.state == "ready":
            log.warning("downstream_restart_requested", server=self.name, reason=reason)
            self._restart_requested.set()

    async def run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            ready_at: float | None = None
            try:
                async with self.transport.connect(self) as session:
                    await self._refresh(session, {"tools", "resources", "prompts"})
                    self._checked(True, started)
                    self.session = session
                    self.server_info = session.server_info
                    self.state = "ready"
                    self.connected_at = ready_at = self._clock()
                    self.last_error = None
                    self.next_retry_at = None
                    log.info(
                        "downstream_ready",
                        server=self.name,
                        tools=len(self.snapshot.tools),
                        info=self.server_info,
                    )
                    self._first_attempt_over()
                    self._on_change(Change.of(self.name, ChangeKind.STATE, *LISTS))
                    await self._resubscribe(session)
                    await self._supervise(session)
            except Exception as exc:  # a downstream must never take UCP down
                if self.state != "ready":
                    self._checked(False, started)
                cause = _unwrap(exc)
                self.last_error = mask_secrets(
                    str(cause) if isinstance(cause, UCPError) else f"{type(cause).__name__}: {cause}"
                )
                log.warning(
                    "downstream_failed",
                    server=self.name,
                    error=self.last_error[:500],
                    attempt=attempt,
                    exc_info=not isinstance(cause, UCPError) and log_tracebacks(),
                )
            finally:
                self.session = None
            self._first_attempt_over()
            if self._stop.is_set():
                break
            if ready_at is not None and self._clock() - ready_at >= self.settings.fast_failure_s:
                attempt, self.fast_failures = 0, 0  # it served a while: a fresh start
            else:
                self.fast_failures += 1
            was_ready = self.state == "ready"
            self.restarts += 1
            if self.settings.park_after and self.fast_failures >= self.settings.park_after:
                await self._park()
                attempt = 0
                continue
            self.state = "restarting" if was_ready else "failed"
            self._on_change(Change.of(self.name, ChangeKind.STATE))
            delay = backoff_delay(
                attempt,
                initial=self.settings.backoff_initial,
                maximum=self.settings.backoff_max,
                rng=self._rng,
            )
            attempt += 1
            self.next_retry_at = self._clock() + delay
            log.info(
                "downstream_restart_scheduled", server=self.name, delay_s=round(delay, 3), attempt=attempt
            )
            with anyio.move_on_after(delay):
                await self._stop.wait()
        self.state = "stopped"
        self._on_change(Change.of(self.name, ChangeKind.STATE))

    async def _resubscribe(self, session: DownstreamSession) -> None:
        """A reconnected server forgot its subscriptions: ask again for each."""
        if not session.capabilities.subscribe:
            return
        for uri in sorted(self.subscriptions):
            try:
                await session.subscribe_resource(uri, timeout=self.timeout)
            except (DownstreamError, TimeoutError) as exc:
                log.warning("downstream_resubscribe_failed", server=self.name, uri=uri, error=str(exc)[:200])

    async def _park(self) -> None:
        """Stop retrying until ``unpark()`` or ``stop()``: a server that keeps dying right away
        costs nothing more (no restarts, no log lines) until someone changes something."""
        self.state = "parked"
        self.next_retry_at = None
        log.error(
            "downstream_parked",
            server=self.name,
            fast_failures=self.fast_failures,
            last_error=(self.last_error or "")[:300],
            action=f"fix its configuration, or `ucp registry enable {self.name}` to retry",
        )
        self._on_change(Change.of(self.name, ChangeKind.STATE))
        self._unpark = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def until(event: anyio.Event) -> None:
                await event.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(until, self._unpark)
            tg.start_soon(until, self._stop)
        self.fast_failures = 0
        if not self._stop.is_set():
            log.info("downstream_unparked", server=self.name)
            self.state = "starting"
            self._on_change(Change.of(self.name, ChangeKind.STATE))

    def _first_attempt_over(self) -> None:
        self.first_attempt_done.set()
        self.listed.set()

    async def _supervise(self, session: DownstreamSession) -> None:
        self._restart_requested = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def until(event: anyio.Event, reason: str | None) -> None:
                await event.wait()
                if reason:
                    self.last_error = reason
                tg.cancel_scope.cancel()

            tg.start_soon(until, session.closed, "connection closed by the server")
            tg.start_soon(until, self._stop, None)
            tg.start_soon(until, self._restart_requested, "restart requested after a failure")
            tg.start_soon(self._refresh_loop, session)
            tg.start_soon(self._health_loop, session)
            tg.start_soon(self._probe_loop, session)
        if not self._stop.is_set():
            log.warning(
                "downstream_disconnected", server=self.name, reason=self.last_error or "connection lost"
            )

    async def _refresh_loop(self, session: DownstreamSession) -> None:
        while True:
            await self._dirty_event.wait()
            self._dirty_event = anyio.Event()
            kinds, self._dirty = set(self._dirty), set()
            try:
                await self._refresh(session, kinds)
            except DownstreamError as exc:
                log.warning("downstream_refresh_failed", server=self.name, error=str(exc)[:300])
                continue
            self._on_change(Change.of(self.name, *kinds))

    def _checked(self, ok: bool, started: float) -> None:
        self.last_check_at = time.time()
        self.last_check_ok = ok
        self.last_latency_ms = round((time.perf_counter() - started) * 1000, 2)

    async def _health_loop(self, session: DownstreamSession) -> None:
        misses = 0
        while True:
            await anyio.sleep(self.health_interval)
            started = time.perf_counter()
            try:
                await session.ping(timeout=min(10.0, max(2.0, self.health_interval)))
                self._checked(True, started)
                misses = 0
            except Exception as exc:
                self._checked(False, started)
                misses += 1
                log.warning(
                    "downstream_health_check_failed", server=self.name, error=str(exc)[:200], misses=misses
                )
                if misses >= 2:
                    self.last_error = f"health check failed twice: {exc}"
                    self._restart_requested.set()
                    return

    async def _probe_loop(self, session: DownstreamSession) -> None:
        """A call hit its deadline: is the server still answering? If not, restart it now."""
        while True:
            self._probe_requested = anyio.Event()
            await self._probe_requested.wait()
            try:
                await session.ping(timeout=min(PROBE_TIMEOUT, max(1.0, self.timeout)))
            except Exception as exc:
                self.last_error = mask_secrets(f"not answering after a call timed out: {exc}")[:500]
                log.warning("downstream_hung", server=self.name, error=self.last_error)
                self._restart_requested.set()
                return

    async def _refresh(self, session: DownstreamSession, kinds: set[ListKind] | set[str]) -> None:
        caps = session.capabilities
        snap = self.snapshot
        tools, resources, templates, prompts = snap.tools, snap.resources, snap.templates, snap.prompts
        if "tools" in kinds and caps.tools:
            tools = await session.list_tools()
        if "resources" in kinds and caps.resources:
            resources = await session.list_resources()
            templates = await _optional(
                session.list_resource_templates(), [], self.name, "resources/templates/list"
            )
        if "prompts" in kinds and caps.prompts:
            prompts = await session.list_prompts()
        self.snapshot = Snapshot(tools=tools, resources=resources, templates=templates, prompts=prompts)

    # ------------------------------------------------------------ calls
    def _unavailable(self) -> DownstreamUnavailableError:
        if self.state == "stopped":
            detail = "stopped (removed or disabled)"
        elif self.state == "parked":
            detail = (
                f"parked after {self.settings.park_after} fast failures; fix its configuration or "
                f"`ucp registry enable {self.name}`"
            )
        elif self.state in ("restarting", "failed"):
            wait = max(0.0, (self.next_retry_at or self._clock()) - self._clock())
            detail = f"{self.state}; next attempt in {wait:.1f} s"
        else:
            detail = self.state
        cause = f"; last error: {self.last_error}" if self.last_error else ""
        return DownstreamUnavailableError(
            f"server {self.name!r} is unavailable ({detail}){cause}",
            server=self.name,
            state=self.state,
        )

    async def use(self, wait: float = 0.0) -> DownstreamSession:
        """The live session, or a ``DownstreamUnavailableError`` naming the state.

        A server still making its first connection (listed from the last-known lists) is
        waited for up to ``wait`` seconds: a host may call a tool it was just shown."""
        if self.state == "starting" and wait > 0 and not self.first_attempt_done.is_set():
            with anyio.move_on_after(wait):
                await self.first_attempt_done.wait()
        session = self.session
        if session is None or self.state != "ready":
            raise self._unavailable()
        return session

    async def call_tool(
        self,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,
        hooks: CallHooks | None = None,
    ) -> types.CallToolResult:
        """Call ``tool`` within one deadline (``timeout``, else the server's) covering the whole call."""
        check_arguments(arguments, server=self.name, tool=tool)
        if self.guard is not None:
            self.guard(self.name, tool)
        limit = timeout if timeout is not None else self.timeout
        deadline = anyio.current_time() + limit
        acquired = False
        elicit = hooks.elicit if hooks else None
        session = await self.use(wait=limit)  # bounded by the deadline too
        try:
            with anyio.fail_after(max(0.05, deadline - anyio.current_time())):
                with anyio.move_on_after(min(limit, self.settings.acquire_timeout)) as waiting:
                    await self._limiter.acquire()
                    acquired = True
                if not acquired and waiting.cancelled_caught:
                    raise DownstreamBusyError(
                        f"server {self.name!r} has {self.max_concurrency} calls in flight (its "
                        "max_concurrency); try again shortly or raise max_concurrency",
                        server=self.name,
                    )
                self.calls += 1
                if elicit is not None:
                    self._elicitors.append(elicit)
                remaining = max(0.05, deadline - anyio.current_time())
                result = await session.call_tool(
                    tool, arguments, timeout=remaining, progress=hooks.progress if hooks else None
                )
            check_result(result, server=self.name, tool=tool, limit=self.settings.max_result_bytes)
            return result
        except TimeoutError:
            self.failures += 1
            self._probe_requested.set()
            raise DownstreamTimeoutError(
                f"{tool} on server {self.name!r} took longer than {limit:g} s (its timeout)",
                server=self.name,
                timeout=limit,
            ) from None
        except DownstreamTimeoutError:
            self.failures += 1
            self._probe_requested.set()
            raise
        except DownstreamUnavailableError:
            if acquired:
                self.failures += 1
                self.request_restart("connection lost during a call")
            raise
        except DownstreamError:
            self.failures += 1
            raise
        finally:
            if elicit is not None and elicit in self._elicitors:
                self._elicitors.remove(elicit)
            if acquired:
                self._limiter.release()


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


async def _optional(coro: Any, default: Any, server: str, what: str) -> Any:
    try:
        return await coro
    except DownstreamError as exc:
        log.info("downstream_optional_list_failed", server=server, list=what, error=str(exc)[:200])
        return default
