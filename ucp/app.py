"""The composition root: the one place that builds UCP from its configuration.

``Gateway`` constructs every part with constructor injection, in dependency
order (buses, pool, catalog, router and learner, call path, meta-tools, the
session and admin facades, self-registered services, the catalog sync), and
runs their background work inside one ``AsyncExitStack``. ``serve_stdio`` and
``serve_http`` build the fronts on top of the two facades. Nothing below this
module imports it: the fronts see ``SessionAPI`` / ``AdminAPI`` only; the CLI
and tests may also reach the parts through the attributes here.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from ucp.config.loader import LoadedConfig, read_config_file
from ucp.config.models import Config, ServerConfig
from ucp.config.paths import Paths
from ucp.downstream.factory import builtin_transport, make_transport, shared_transport
from ucp.downstream.prespawn import Prespawned
from ucp.errors import ConfigError
from ucp.events import ChangeBus
from ucp.log import get_logger
from ucp.observe.telemetry import Telemetry
from ucp.policy.audit import AuditLog
from ucp.policy.limits import RateLimiter
from ucp.policy.rules import Policy
from ucp.pool.directory import Directory
from ucp.pool.listcache import ListCache
from ucp.pool.pool import Pool, ServerSpec
from ucp.pool.services import SelfRegisteredServices
from ucp.router.catalog import Catalog, CatalogEntry
from ucp.router.pins import PinStore
from ucp.router.router import Router
from ucp.session import metatools
from ucp.session.admin import AdminFacade
from ucp.session.calls import CallPath
from ucp.session.facade import SessionFacade
from ucp.session.guard import Guard
from ucp.session.manager import SessionManager
from ucp.session.metatools import MetaTools
from ucp.session.state import Session
from ucp.session.sync import CatalogSync
from ucp.state import State, open_state
from ucp.state.audit import AuditShipper
from ucp.state.limits import SharedBuckets
from ucp.state.services import SharedServices

if TYPE_CHECKING:
    from ucp.frontend.context import Fronts
    from ucp.frontend.early import EarlyFront
    from ucp.frontend.lifecycle import Lifecycle
    from ucp.frontend.replica import Replica
    from ucp.identity import Identity
    from ucp.identity.authenticator import Authenticator
    from ucp.router.learner import Learner
    from ucp.router.learner_sync import LearnerSync

log = get_logger("ucp.app")

CLOUD_LISTING = Path(__file__).parent / "builtins" / "cloud" / "tools.json"
CLOUD_SERVER = "ucp.builtins.cloud.server:SERVER"


def _fingerprint(server: ServerConfig) -> str:
    return hashlib.sha256(json.dumps(server.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[
        :16
    ]


class _PriorsObserver:
    """Feeds each call into the router's priors (usage, what follows what) and its learner; a named
    tenant's calls feed only that tenant's own learner (never the shared priors)."""

    def __init__(self, router: Router, guard: Guard) -> None:
        self.router = router
        self.guard = guard

    def on_call(self, session: Session, entry: CatalogEntry, ok: bool, error_code: str | None) -> None:
        tenant = self.guard.learning_scope(session.identity)
        if not tenant:
            self.router.record_call(entry.exposed, session.previous_call(), ok)
        learner = self.router.learner_for(tenant)
        if learner is not None:
            learner.on_call(session.id, entry.exposed, ok, error_code)


def _open_learner(config: Config, paths: Paths, state: State | None = None) -> Learner:
    """The learner over the feedback store; an unreadable store is set aside (kept, renamed).

    Shared state: the statistics live in Redis (``LearnerSync``) and the events in PostgreSQL when
    ``postgres_url`` is set (else in this replica's SQLite store)."""
    from ucp.router.feedback import FeedbackStore
    from ucp.router.learner import Learner

    settings = config.learning
    shared = state is not None and state.shared
    if shared and state is not None and state.postgres_url is not None:
        from ucp.state.feedback import PgFeedbackStore

        events = PgFeedbackStore(
            state.postgres_url,
            schema=state.pg_schema(),
            retention_days=settings.retention_days,
            max_events=settings.max_events,
            connect_timeout=config.state.timeout,
        )
        return Learner(settings, events, shared=True, journal_max=config.state.buffer_max)

    def store() -> FeedbackStore:
        return FeedbackStore(
            paths.learning_db, retention_days=settings.retention_days, max_events=settings.max_events
        )

    def learner() -> Learner:
        return Learner(settings, store(), shared=shared, journal_max=config.state.buffer_max)

    try:
        return learner()
    except sqlite3.DatabaseError as exc:
        aside = paths.learning_db.with_name(f"{paths.learning_db.name}.corrupt-{int(time.time())}")
        paths.learning_db.replace(aside)
        for suffix in ("-wal", "-shm"):
            paths.learning_db.with_name(paths.learning_db.name + suffix).unlink(missing_ok=True)
        log.warning(
            "learning_state_unreadable", error=str(exc), moved_to=str(aside), action="starting afresh"
        )
        return learner()


class Gateway:
    """Every part of a running UCP, built from one ``Config``. ``api`` and ``admin`` are what
    fronts get; the other attributes are for the CLI, benchmarks and tests."""

    def __init__(
        self,
        config: Config,
        paths: Paths,
        *,
        config_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        watch_config: bool = False,
        dense: bool | None = None,
        prespawned: Mapping[str, Prespawned] | None = None,
        telemetry: Telemetry | None = None,
        pool_sockets: Path | None = None,
    ) -> None:
        self.config = config
        # a worker of ``ucp serve --workers``: every server is reached through the pool process
        self.pool_sockets = pool_sockets
        self.paths = paths
        self.config_path = config_path
        self.env = env if env is not None else os.environ
        self.watch_config = watch_config
        self._prespawned = dict(prespawned or {})
        self._config_mtime: float | None = None
        self._stack: AsyncExitStack | None = None
        self._authenticator: Authenticator | None = None
        # the configured state stores (embedded: none); parts that keep state take it from here
        self.state = open_state(config.state, self.env)
        self.replica: Replica | None = None  # shared backend: sessions and notifications any replica serves
        if self.state.shared:
            from ucp.frontend.replica import Replica

            self.replica = Replica.on_state(self.state, session_ttl_s=config.http.session_idle_s)
            self.replica.held = lambda: [s.id for s in self.sessions.all() if s.transport == "http"]
        self.learner_sync: LearnerSync | None = None  # shared state: the learner's link to Redis
        self.lifecycle: Lifecycle | None = None  # set while serving HTTP: readiness and the SIGTERM drain
        self._closers: list[Callable[[], None]] = []  # shared stores' connections closed at exit
        self.tenant_syncs: dict[str, LearnerSync] = {}  # named tenants' learners' links to Redis
        self._tg: anyio.abc.TaskGroup | None = None

        self.downstream_events = ChangeBus()  # what downstreams did (published by the pool)
        self.client_events = ChangeBus()  # what clients must hear (published by the session layer)
        self.pool = Pool(
            config.pool,
            list_cache=ListCache(paths.index_dir / "lists") if pool_sockets is None else None,
            events=self.downstream_events,
            enable_dir=paths.enable_requests,
        )
        self.catalog = Catalog()
        self.directory = Directory()
        self.pins = PinStore(
            paths.pins,
            withhold=config.trust.changed_tools == "withhold",
            flag_injection=config.trust.flag_injection,
        )
        self.pool.guard = self.pins.guard  # a withheld tool's calls are refused before they are sent
        self.router = Router(
            self.catalog,
            settings=config.router,
            learning=config.learning,
            paths=paths,
            dense=config.router.dense if dense is None else dense,
            learner_factory=(lambda: _open_learner(config, paths, self.state))
            if config.learning.enabled
            else None,
            tenant_learner_factory=self._open_tenant_learner if config.learning.enabled else None,
        )
        self.catalog.subscribe(self.router.on_catalog_change)
        self.sessions = SessionManager()
        self.telemetry = telemetry or Telemetry(
            config.telemetry,
            env=self.env,
            records_path=paths.state_dir / "calls.sqlite",
            learning_db=paths.learning_db if config.learning.enabled else None,
            **self._shared_records(),
            servers=lambda: [s.to_dict() for s in self.pool.status()],
            sessions=lambda: [(s.mode, s.client_name) for s in self.sessions.all()],
        )
        self.client_events.subscribe(lambda change: self.telemetry.metrics.list_changed(change.kinds))
        self.audit = AuditLog(
            paths.audit_dir,
            config.audit,
            shipper=AuditShipper(
                paths.audit_dir,
                self.state.postgres_url,
                schema=self.state.pg_schema(),
                connect_timeout=config.state.timeout,
            )
            if self.state.postgres_url is not None
            else None,
            replica=f"{socket.gethostname()}:{os.getpid()}",
        )
        limiter = RateLimiter(
            config.rate_limits, shared=SharedBuckets(self.state) if self.state.shared else None
        )
        self.guard = Guard(Policy(config.policy, config.tenants), limiter, self.audit)
        self.calls = CallPath(
            self.catalog,
            self.pool,
            observers=[_PriorsObserver(self.router, self.guard)],
            extra_names=metatools.NAMES,
            guard=self.guard,
            telemetry=self.telemetry,
        )
        self.meta = MetaTools(
            self.calls,
            self.router,
            flagged=self.pins.is_changed,
            warning=self.pins.warning_for,
            default_limit=config.exposure.search_limit,
        )
        self.api = SessionFacade(
            catalog=self.catalog,
            pool=self.pool,
            directory=self.directory,
            calls=self.calls,
            meta=self.meta,
            pins=self.pins,
            settings=config.exposure,
            events=self.client_events,
            store=self.sessions,
        )
        self.services = SelfRegisteredServices(
            self.pool,
            paths.services,
            config.http,
            self._spec,
            shared=SharedServices(self.state) if self.state.shared else None,
        )
        self.admin = AdminFacade(
            pool=self.pool,
            catalog=self.catalog,
            pins=self.pins,
            sessions=self.sessions,
            services=self.services,
            dense_ready=lambda: self.router.dense_ready,
            router=self.router,
        )
        self.sync = CatalogSync(
            self.pool,
            self.catalog,
            self.directory,
            self.pins,
            servers=lambda: self.config.servers,
            client_events=self.client_events,
        )

    def _open_tenant_learner(self, tenant: str) -> Learner:
        """A named tenant's own learner: its own SQLite store under state/tenants, or (shared state) its
        own Redis keys and PostgreSQL schema, kept in step by its own ``LearnerSync``."""
        from ucp.router.feedback import FeedbackStore
        from ucp.router.learner import Learner

        settings, state = self.config.learning, self.state
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in tenant)[:64]
        events: Any
        if state.shared and state.postgres_url is not None:
            from ucp.state.feedback import PgFeedbackStore

            events = PgFeedbackStore(
                state.postgres_url,
                schema=f"{state.pg_schema()}_t_{safe.lower().replace('-', '_')}"[:63],
                retention_days=settings.retention_days,
                max_events=settings.max_events,
                connect_timeout=self.config.state.timeout,
            )
        else:
            events = FeedbackStore(
                self.paths.state_dir / "tenants" / f"{safe}.sqlite",
                retention_days=settings.retention_days,
                max_events=settings.max_events,
            )
        learner = Learner(settings, events, shared=state.shared, journal_max=self.config.state.buffer_max)
        if state.shared and self._tg is not None:
            from ucp.router.learner_sync import LearnerSync
            from ucp.state.learning import SharedLearning

            sync = LearnerSync(
                learner, SharedLearning(state, scope=tenant), interval=self.config.state.flush_interval
            )
            self.tenant_syncs[tenant] = sync
            self._tg.start_soon(sync.run)
        return learner

    def _shared_records(self) -> dict[str, Any]:
        """With shared state and PostgreSQL: call records and the analytics' feedback reads there."""
        if self.state.postgres_url is None:
            return {}
        from ucp.observe.analytics import Analytics
        from ucp.state.feedback import PgFeedbackStore
        from ucp.state.records import PgCallRecords

        settings, schema, timeout = self.config.telemetry, self.state.pg_schema(), self.config.state.timeout
        reads = PgFeedbackStore(self.state.postgres_url, schema=schema, connect_timeout=timeout)
        self._closers.append(reads.close)

        def learned() -> list[dict[str, Any]]:
            learner = self.router.learner_loaded
            return learner.stats() if learner is not None else []

        return {
            "records": PgCallRecords(
                self.state.postgres_url,
                schema=schema,
                max_rows=settings.max_call_records,
                connect_timeout=timeout,
            ),
            "analytics": Analytics(None, None, feedback=reads.query, learned=learned),
        }

    @classmethod
    def from_loaded(cls, loaded: LoadedConfig, paths: Paths, **kw: Any) -> Gateway:
        return cls(loaded.config, paths, config_path=loaded.path, **kw)

    def new_session(self, **kw: Any) -> Session:
        return self.api.open(**kw)

    def _spec(self, server: ServerConfig) -> ServerSpec:
        if self.pool_sockets is not None:
            return ServerSpec(
                name=server.name,
                transport=shared_transport(
                    server, self.pool_sockets, max_line_bytes=self.config.pool.max_message_bytes
                ),
                timeout=server.timeout + 5,  # the pool process enforces the server's own deadline
                max_concurrency=max(server.max_concurrency, 64),  # and its concurrency limit
                fingerprint=_fingerprint(server),
            )
        transport = make_transport(
            server,
            env=self.env,
            logs_dir=self.paths.logs_dir,
            utcp_options={
                "allow_private": self.config.http.allow_private_networks,
                "allow_loopback": self.config.http.allow_loopback_fetch,
                "max_bytes": self.config.http.max_response_bytes,
            },
            prespawned=self._prespawned.pop(server.name, None),
            oauth_dir=self.paths.oauth_dir,
            max_line_bytes=self.config.pool.max_message_bytes,
        )
        return ServerSpec(
            name=server.name,
            transport=transport,
            timeout=server.timeout,
            max_concurrency=server.max_concurrency,
            fingerprint=_fingerprint(server),
        )

    def authenticator(self) -> Authenticator:
        """Who may use the HTTP fronts (OAuth tokens, API keys): the one the last ``fronts()`` built."""
        if self._authenticator is None:
            from ucp.identity.authenticator import Authenticator

            self._authenticator = Authenticator(
                self.config.auth, self.config.http, self.env, key_file=self.paths.keys
            )
        return self._authenticator

    def fronts(self) -> Fronts:
        """What the HTTP fronts get: the facades, the settings, a new authenticator (it reads the
        environment's keys now) and the audit hook."""
        from ucp.frontend.context import Fronts

        self._authenticator = None

        def denied(reason: str, path: str) -> None:
            self.audit.record("auth_denied", outcome="denied", reason=reason, path=path)
            self.telemetry.metrics.auth_denied(reason)

        def admin_action(action: str, identity: Identity, name: str, outcome: str) -> None:
            self.audit.record("admin", identity=identity, action=action, name=name, outcome=outcome)

        return Fronts(
            api=self.api,
            admin=self.admin,
            http=self.config.http,
            env=self.env,
            auth=self.authenticator(),
            on_auth_denied=denied,
            may_administer=self.guard.policy.may_administer,
            on_admin=admin_action,
            telemetry=self.telemetry,
            replica=self.replica,
        )

    @property
    def learner(self) -> Learner | None:
        return self.router.learner

    # ------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Gateway:
        stack = AsyncExitStack()
        await stack.__aenter__()
        self._stack = stack
        try:
            stack.push_async_callback(self.state.aclose)
            for close in self._closers:
                stack.callback(close)
            stack.callback(self.audit.close)
            stack.callback(self.telemetry.close)
            stack.push_async_callback(self._close_learner)
            stack.callback(self.router.close)
            stack.callback(self.sync.close)
            tg = await stack.enter_async_context(anyio.create_task_group())
            self._tg = tg
            stack.callback(tg.cancel_scope.cancel)  # background loops stop once the pool has closed
            stack.callback(self._kill_leftovers)
            await stack.enter_async_context(self.pool)
            if self.config.builtins:
                # listed from the generated tools.json; the tools' code is imported at the first call
                self.pool.add(
                    ServerSpec(
                        name="cloud",
                        transport=builtin_transport(CLOUD_SERVER, name="cloud", listing=CLOUD_LISTING),
                        timeout=120,
                        max_concurrency=2,
                        source="builtin",
                    )
                )
            for server in self.config.servers.values():
                if server.enabled:
                    self.pool.add(self._spec(server))
            self.services.load()
            tg.start_soon(self.sync.run)
            if self.replica is not None and self.replica.fanout is not None:
                await tg.start(self.replica.fanout.run, self.client_events)
                tg.start_soon(self.replica.heartbeat)
            tg.start_soon(self.services.run)
            tg.start_soon(self._save_learning_loop)
            if self.state.shared and self.config.learning.enabled:
                tg.start_soon(self._shared_learning)
            self.router.start(tg)
            if self.watch_config and self.config_path is not None:
                self._config_mtime = self._mtime()
                tg.start_soon(self._watch_loop)
        except BaseException:
            await stack.__aexit__(None, None, None)
            self._stack = None
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        stack, self._stack = self._stack, None
        assert stack is not None
        await stack.__aexit__(exc_type, exc, tb)
        return None

    def _kill_leftovers(self) -> None:
        for leftover in self._prespawned.values():  # pre-spawned but never adopted (e.g. disabled)
            leftover.process.kill()
            if leftover.errlog is not None:
                leftover.errlog.close()
        self._prespawned.clear()

    async def _shared_learning(self) -> None:
        """Open the learner (off the loop) and keep it in step with the shared store."""
        from ucp.router.learner_sync import LearnerSync
        from ucp.state.learning import SharedLearning

        learner = await anyio.to_thread.run_sync(lambda: self.router.learner)
        if learner is None:
            return
        self.learner_sync = LearnerSync(
            learner, SharedLearning(self.state), interval=self.config.state.flush_interval
        )
        await self.learner_sync.run()

    async def _close_learner(self) -> None:
        for tenant, tenant_learner in list(self.router.tenant_learners.items()):
            try:
                sync = self.tenant_syncs.get(tenant)
                if sync is not None:
                    tenant_learner.finalize_open()
                    with anyio.move_on_after(self.config.state.timeout):
                        await sync.flush()
                tenant_learner.close()
            except Exception:
                log.exception("learning_state_not_saved", tenant=tenant)
        learner = self.router.learner_loaded
        if learner is not None:
            try:
                if self.learner_sync is not None:
                    learner.finalize_open()
                    with anyio.move_on_after(self.config.state.timeout):
                        await self.learner_sync.flush()
                learner.close()
            except Exception:
                log.exception("learning_state_not_saved")

    async def wait_ready(self, timeout: float | None = None, *, live: bool = False) -> None:
        """Until every server is listed (``live``: connected or failed once, not from last-known lists)."""
        await self.pool.wait_initial(
            self.config.exposure.initial_wait if timeout is None else timeout, live=live
        )

    async def _save_learning_loop(self, interval: float = 2.0) -> None:
        """Persist learning state and call records off the protocol loop; compact both hourly."""
        last_compact = anyio.current_time()
        while True:
            await anyio.sleep(interval)
            await anyio.to_thread.run_sync(self.telemetry.flush)
            if self.audit.shipper is not None:
                await anyio.to_thread.run_sync(self.audit.ship)
            now = anyio.current_time()
            compact = now - last_compact > 3600
            if compact:
                last_compact = now
                records = self.telemetry.records
                if records is not None:
                    await anyio.to_thread.run_sync(records.compact)
            learners = [self.router.learner_loaded, *self.router.tenant_learners.values()]
            for learner in learners:
                if learner is None:
                    continue
                try:
                    await anyio.to_thread.run_sync(learner.save)
                    if compact and learner.store is not None:
                        await anyio.to_thread.run_sync(learner.store.compact)
                except Exception:
                    log.exception("learning_save_failed")

    # ------------------------------------------------------------ registry hot reload
    def _mtime(self) -> float | None:
        try:
            return self.config_path.stat().st_mtime if self.config_path else None
        except OSError:
            return None

    async def _watch_loop(self, interval: float = 1.0) -> None:
        while True:
            await anyio.sleep(interval)
            mtime = self._mtime()
            if mtime == self._config_mtime:
                continue
            self._config_mtime = mtime
            assert self.config_path is not None
            try:
                loaded = read_config_file(self.config_path)
            except ConfigError as exc:
                log.error("config_reload_rejected", error=exc.message, keeping="the running configuration")
                continue
            await self.apply_servers(loaded.config)

    async def apply_servers(self, config: Config) -> dict[str, list[str]]:
        """Bring the pool in line with ``config.servers`` (added / removed / changed)."""
        wanted = {n: s for n, s in config.servers.items() if s.enabled}
        running = {n for n, spec in self.pool.specs.items() if spec.source == "registry"}
        added, removed, changed = [], [], []
        for name in sorted(running - set(wanted)):
            await self.pool.remove(name)
            removed.append(name)
        for name, server in sorted(wanted.items()):
            spec = self.pool.specs.get(name)
            if spec is None:
                self.pool.add(self._spec(server))
                added.append(name)
            elif spec.source == "registry" and spec.fingerprint != _fingerprint(server):
                await self.pool.replace(self._spec(server))
                changed.append(name)
        self.config = self.config.model_copy(update={"servers": dict(config.servers)})
        log.info("config_reloaded", added=added, removed=removed, changed=changed)
        self.sync.tools_changed()
        return {"added": added, "removed": removed, "changed": changed}


# ---------------------------------------------------------------- the fronts on top
async def serve_stdio(gateway: Gateway, early: EarlyFront | None = None) -> None:
    """MCP over stdio (what a host launches); ``early``: the front that has been reading stdin
    since the process started (``ucp.frontend.early``)."""
    from ucp.frontend.run import run_stdio
    from ucp.frontend.server import build_mcp_server

    await run_stdio(build_mcp_server(gateway.api, telemetry=gateway.telemetry), early)


async def serve_http(gateway: Gateway, host: str, port: int, *, worker: int | None = None) -> None:
    """MCP at /mcp plus the REST, UTCP and service-registry routes, over HTTP. ``worker``: this
    process is that worker of ``ucp serve --workers`` (shared port, session affinity)."""
    from ucp.frontend.http import build_http_app, lifecycle_for
    from ucp.frontend.run import http_server, run_http

    fronts = gateway.fronts()
    gateway.lifecycle = lifecycle_for(fronts)  # the CLI's SIGTERM handler drains through it
    try:
        if worker is None or gateway.pool_sockets is None:
            await run_http(
                build_http_app(fronts, host=host),
                host,
                port,
                header_timeout=gateway.config.http.header_timeout,
            )
            return
        from ucp.frontend.workers import SessionAffinity, listening_sockets, prefix_session_ids

        prefix_session_ids(worker)
        app = SessionAffinity(build_http_app(fronts, host=host), index=worker, directory=gateway.pool_sockets)
        sockets = listening_sockets(host, port, gateway.pool_sockets, worker)
        log.info("serving", transport="http", worker=worker, url=f"http://{host}:{port}/mcp")
        try:
            server = http_server(app, host, port, header_timeout=gateway.config.http.header_timeout)
            await server.serve(sockets=sockets)
        finally:
            await app.aclose()
    finally:
        await gateway.authenticator().aclose()
