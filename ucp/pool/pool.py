"""The connection pool: one ``Connection`` task per downstream, in one task group.

Servers can be added, replaced and removed while UCP runs (registry hot
reload, self-registered services). Every change of a downstream is published as
a typed ``Change`` (``ucp.events``) on the pool's bus; subscribers rebuild what
they derive (the catalog, the router index, notifications upstream).

A parked server (``connection.py``) is retried by ``unpark(name)``; a running pool also
watches ``enable_dir`` (``$UCP_HOME/state/enable/``) where ``ucp registry enable NAME``
drops a file named after the server, so the CLI can re-enable a server of a running UCP.
``guard`` (set by the app: the trust store) may refuse a call before it is sent.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup

from ucp.config.models import PoolSettings
from ucp.downstream.base import CallHooks, Transport
from ucp.errors import DownstreamError, DownstreamUnavailableError, UnknownServerError
from ucp.events import LISTS, Change, ChangeBus, ChangeKind
from ucp.log import get_logger
from ucp.pool.arguments import check_arguments
from ucp.pool.connection import Connection
from ucp.pool.listcache import ListCache
from ucp.pool.outputs import OutputChecker

log = get_logger("ucp.pool")


@dataclass(frozen=True)
class ServerSpec:
    """What the pool needs to run one server (built by the app from a ServerConfig)."""

    name: str
    transport: Transport
    timeout: float = 60.0
    max_concurrency: int = 8
    source: str = "registry"
    fingerprint: str = ""
    health_interval: float | None = None  # None: the pool's [pool] health_interval


@dataclass(frozen=True)
class ServerStatus:
    name: str
    kind: str
    state: str
    healthy: bool
    tools: int
    resources: int
    prompts: int
    last_error: str | None
    restarts: int
    calls: int
    failures: int
    server_info: str
    source: str
    uptime_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Pool:
    def __init__(
        self,
        settings: PoolSettings | None = None,
        list_cache: ListCache | None = None,
        events: ChangeBus | None = None,
        *,
        enable_dir: Path | None = None,
    ) -> None:
        self.settings = settings or PoolSettings()
        self.enable_dir = enable_dir
        self.guard: Callable[[str, str], None] | None = None
        self.list_cache = list_cache
        self.events = events or ChangeBus()
        self.connections: dict[str, Connection] = {}
        self.specs: dict[str, ServerSpec] = {}
        self._tg: TaskGroup | None = None
        self._done: dict[str, anyio.Event] = {}
        self.outputs = OutputChecker()

    # ------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Pool:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        if self.enable_dir is not None:
            self._tg.start_soon(self._enable_requests_loop, self.enable_dir)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        for conn in self.connections.values():
            conn.stop()
        assert self._tg is not None
        if self.enable_dir is not None:
            self._tg.cancel_scope.cancel()  # the watcher; connections end on stop()
        return await self._tg.__aexit__(exc_type, exc, tb)

    def _emit(self, change: Change) -> None:
        server = change.server
        conn = self.connections.get(server)
        if change.has(ChangeKind.TOOLS) and conn is not None:
            self.outputs.forget_server(server, keep={t.name for t in conn.snapshot.tools})
        cache = self._cache_for(server)
        if cache is not None and conn is not None and conn.healthy and change.has(*LISTS):
            cache.save(server, self.specs[server].fingerprint, conn.snapshot)
        self.events.publish(change)  # a subscriber's bug is logged by the bus, never kills this task

    # ------------------------------------------------------------ membership
    def add(self, spec: ServerSpec) -> None:
        if self._tg is None:
            raise RuntimeError("Pool must be entered before servers are added")
        if spec.name in self.connections:
            raise ValueError(f"server {spec.name!r} is already in the pool")
        conn = Connection(
            spec.name,
            spec.transport,
            settings=self.settings,
            timeout=spec.timeout,
            max_concurrency=spec.max_concurrency,
            on_change=self._emit,
            health_interval=spec.health_interval,
        )
        conn.guard = self._guard_call
        self.connections[spec.name] = conn
        self.specs[spec.name] = spec
        cache = self._cache_for(spec.name)
        if cache is not None:
            last_known = cache.load(spec.name, spec.fingerprint)
            if last_known is not None:
                conn.seed(last_known)
                log.info("pool_server_listed_from_cache", server=spec.name, tools=len(last_known.tools))
                self._emit(Change.of(spec.name, *LISTS))
        done = anyio.Event()
        self._done[spec.name] = done

        async def runner() -> None:
            try:
                await conn.run()
            finally:
                done.set()

        self._tg.start_soon(runner, name=f"ucp-downstream-{spec.name}")
        log.info("pool_server_added", server=spec.name, kind=spec.transport.kind, source=spec.source)

    async def drain(self, timeout: float) -> None:
        """Stop every connection and wait (at most ``timeout``) until each has closed its server."""
        for conn in self.connections.values():
            conn.stop()
        with anyio.move_on_after(timeout):
            for done in list(self._done.values()):
                await done.wait()

    def _guard_call(self, server: str, tool: str) -> None:
        if self.guard is not None:
            self.guard(server, tool)

    def unpark(self, name: str) -> bool:
        """Retry a parked server now; False when it is not parked (or not in the pool)."""
        conn = self.connections.get(name)
        return conn.unpark() if conn is not None else False

    async def _enable_requests_loop(self, directory: Path, interval: float = 1.0) -> None:
        """Pick up ``ucp registry enable NAME`` from a running CLI: a file per server name."""
        while True:
            await anyio.sleep(interval)
            for path in _enable_requests(directory):
                with contextlib.suppress(OSError):
                    path.unlink()
                if self.unpark(path.name):
                    log.info("pool_server_unparked", server=path.name, by="ucp registry enable")

    def _cache_for(self, server: str) -> ListCache | None:
        """The last-known lists cache, if this server's lists are kept (not built-ins: they list from a file)."""
        spec = self.specs.get(server)
        if spec is None or spec.source == "builtin" or not spec.fingerprint or not self.settings.cache_lists:
            return None
        return self.list_cache

    async def remove(self, name: str) -> None:
        conn = self.connections.get(name)
        if conn is None:
            raise UnknownServerError(f"no server {name!r} in the pool", server=name)
        conn.stop()
        with anyio.move_on_after(15):
            await self._done[name].wait()
        self.connections.pop(name, None)
        cache = self._cache_for(name)
        if cache is not None:
            cache.forget(name)
        self.specs.pop(name, None)
        self._done.pop(name, None)
        self.outputs.forget_server(name, keep=set())
        log.info("pool_server_removed", server=name)
        self._emit(Change.of(name, ChangeKind.STATE, ChangeKind.REMOVED, *LISTS))

    async def replace(self, spec: ServerSpec) -> None:
        if spec.name in self.connections:
            await self.remove(spec.name)
        self.add(spec)

    async def wait_initial(self, timeout: float, *, live: bool = False) -> None:
        """Wait until every server's lists are known: from its first connection attempt, or
        (unless ``live``) from its last-known lists. Gives up after ``timeout``."""
        with anyio.move_on_after(timeout):
            for conn in list(self.connections.values()):
                await (conn.first_attempt_done if live else conn.listed).wait()

    # ------------------------------------------------------------ access
    def get(self, name: str) -> Connection:
        conn = self.connections.get(name)
        if conn is None:
            raise DownstreamUnavailableError(
                f"server {name!r} is not registered (or was removed)", server=name, state="absent"
            )
        return conn

    def status(self) -> list[ServerStatus]:
        now = time.monotonic()
        out = []
        for name, conn in sorted(self.connections.items()):
            snap = conn.snapshot
            out.append(
                ServerStatus(
                    name=name,
                    kind=conn.transport.kind,
                    state=conn.state,
                    healthy=conn.healthy,
                    tools=len(snap.tools),
                    resources=len(snap.resources) + len(snap.templates),
                    prompts=len(snap.prompts),
                    last_error=conn.last_error,
                    restarts=conn.restarts,
                    calls=conn.calls,
                    failures=conn.failures,
                    server_info=conn.server_info,
                    source=self.specs[name].source if name in self.specs else "",
                    uptime_s=round(now - conn.connected_at, 1)
                    if conn.connected_at and conn.healthy
                    else None,
                )
            )
        return out

    async def call_tool(
        self,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        *,
        timeout: float | None = None,
        hooks: CallHooks | None = None,
    ) -> types.CallToolResult:
        """Call a downstream tool. Raises ``DownstreamError`` subclasses on failure."""
        conn = self.get(server)
        result = await conn.call_tool(tool, arguments, timeout=timeout, hooks=hooks)
        tool_def = conn.snapshot.tool(tool)
        if tool_def is not None and tool_def.output_schema and not result.is_error:
            problem = self.outputs.check(server, tool_def, result)
            if problem is not None:
                log.warning(
                    "downstream_output_schema_mismatch",
                    server=server,
                    tool=tool,
                    problem=problem,
                    action="result passed through; output schema withdrawn from the listing",
                )
                self._emit(Change.of(server, ChangeKind.TOOLS))
        return result

    async def read_resource(self, server: str, uri: str) -> types.ReadResourceResult:
        conn = self.get(server)
        check_arguments(uri, server=server, tool="resources/read")
        session = await conn.use(wait=conn.timeout)
        return await session.read_resource(uri, timeout=conn.timeout)

    async def subscribe_resource(self, server: str, uri: str) -> bool:
        """Ask ``server`` for updates of its resource ``uri`` (kept across reconnects);
        ``False`` when the server does not serve subscriptions."""
        conn = self.get(server)
        session = await conn.use(wait=conn.timeout)
        if not session.capabilities.subscribe:
            return False
        if uri not in conn.subscriptions:
            await session.subscribe_resource(uri, timeout=conn.timeout)
            conn.subscriptions.add(uri)
        return True

    async def unsubscribe_resource(self, server: str, uri: str) -> None:
        conn = self.connections.get(server)
        if conn is None or uri not in conn.subscriptions:
            return
        conn.subscriptions.discard(uri)
        if conn.session is not None and conn.session.capabilities.subscribe:
            try:
                await conn.session.unsubscribe_resource(uri, timeout=conn.timeout)
            except DownstreamError as exc:
                log.info("downstream_unsubscribe_failed", server=server, uri=uri, error=str(exc)[:200])

    async def get_prompt(self, server: str, name: str, arguments: dict[str, str]) -> types.GetPromptResult:
        conn = self.get(server)
        check_arguments(arguments, server=server, tool=name)
        session = await conn.use(wait=conn.timeout)
        return await session.get_prompt(name, arguments, timeout=conn.timeout)

    async def complete(
        self,
        server: str,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: dict[str, str],
        context_arguments: dict[str, str] | None,
    ) -> types.CompleteResult:
        conn = self.get(server)
        session = await conn.use()
        if not session.capabilities.completions:
            return types.CompleteResult(completion=types.Completion(values=[]))
        try:
            return await session.complete(ref, argument, context_arguments, timeout=conn.timeout)
        except DownstreamError:
            return types.CompleteResult(completion=types.Completion(values=[]))


def _enable_requests(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if p.is_file()] if directory.is_dir() else []
    except OSError:
        return []
