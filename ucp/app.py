"""The top-level wiring: the only module that knows every layer.

``Gateway`` owns the pool, the catalog (tool zoo), the router, the sessions and
the background work (list_changed debouncing, registry hot reload, the dense
index warm-up). Fronts (MCP over stdio/HTTP, REST, UTCP, the CLI) use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from ucp.config.loader import LoadedConfig, read_config_file
from ucp.config.models import Config, ExposureMode, ServerConfig
from ucp.config.paths import Paths
from ucp.downstream.factory import builtin_transport, make_transport
from ucp.downstream.prespawn import Prespawned
from ucp.errors import ConfigError
from ucp.log import get_logger
from ucp.pool.directory import Directory
from ucp.pool.listcache import ListCache
from ucp.pool.pool import Pool, ServerSpec
from ucp.router.catalog import Catalog, CatalogChange, CatalogEntry
from ucp.router.pins import PinStore

if TYPE_CHECKING:
    from ucp.router.learner import Learner
from ucp.router.router import Router
from ucp.services import ServiceRegistry
from ucp.session.exposure import Exposure, choose_mode, make_exposure
from ucp.session.manager import SessionManager
from ucp.session.metatools import MetaTools
from ucp.session.service import ToolService
from ucp.session.state import Session

log = get_logger("ucp.app")

CLOUD_LISTING = Path(__file__).parent / "builtins" / "cloud" / "tools.json"


def _fingerprint(server: ServerConfig) -> str:
    return hashlib.sha256(json.dumps(server.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[
        :16
    ]


class _PriorsObserver:
    """Feeds each call into the router's priors (usage, what follows what) and its learner."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def on_call(self, session: Session, entry: CatalogEntry, ok: bool, error_code: str | None) -> None:
        previous = None
        seen = 0
        for item in reversed(session.history):  # the call before this one (history is newest last)
            if item.kind == "call" and item.tool:
                seen += 1
                if seen == 2:
                    previous = item.tool
                    break
        self.router.record_call(entry.exposed, previous, ok)
        if self.router.learner is not None:
            self.router.learner.on_call(session.id, entry.exposed, ok, error_code)


def _open_learner(config: Config, paths: Paths) -> Learner:
    """The learner over the feedback store; an unreadable store is set aside (kept, renamed)."""
    from ucp.router.feedback import FeedbackStore
    from ucp.router.learner import Learner

    settings = config.learning

    def store() -> FeedbackStore:
        return FeedbackStore(
            paths.learning_db, retention_days=settings.retention_days, max_events=settings.max_events
        )

    try:
        return Learner(settings, store())
    except sqlite3.DatabaseError as exc:
        aside = paths.learning_db.with_name(f"{paths.learning_db.name}.corrupt-{int(time.time())}")
        paths.learning_db.replace(aside)
        for suffix in ("-wal", "-shm"):
            paths.learning_db.with_name(paths.learning_db.name + suffix).unlink(missing_ok=True)
        log.warning(
            "learning_state_unreadable", error=str(exc), moved_to=str(aside), action="starting afresh"
        )
        return Learner(settings, store())


class Gateway:
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
    ) -> None:
        self.config = config
        self.paths = paths
        self.config_path = config_path
        self.env = env if env is not None else os.environ
        self.watch_config = watch_config
        self._prespawned = dict(prespawned or {})
        self.pool = Pool(config.pool, list_cache=ListCache(paths.index_dir / "lists"))
        self.catalog = Catalog()
        self.directory = Directory()
        self.sessions = SessionManager()
        self.service = ToolService(self.catalog, self.pool)
        self.router = Router(
            self.catalog,
            settings=config.router,
            learning=config.learning,
            paths=paths,
            dense=config.router.dense if dense is None else dense,
            learner_factory=(lambda: _open_learner(config, paths)) if config.learning.enabled else None,
        )
        self.service.observers.append(_PriorsObserver(self.router))
        self.meta = MetaTools(self.service, self.router, default_limit=config.exposure.search_limit)
        self.service.exposed_extra = lambda: ["ucp__search_tools", "ucp__describe_tool", "ucp__call_tool"]
        self.pins = PinStore(paths.pins)
        self.meta.flagged = self.pins.is_changed
        self._exposures: dict[ExposureMode, Exposure] = {}
        self._tg: TaskGroup | None = None
        self._changed = anyio.Event()
        self._other_changed: set[str] = set()
        self._config_mtime: float | None = None
        self.pool.subscribe(self._on_pool_change)
        self.catalog.subscribe(self._on_catalog_change)
        self.services = ServiceRegistry(self)  # self-registered services ($UCP_HOME/services.json)

    # ------------------------------------------------------------ construction helpers
    @classmethod
    def from_loaded(cls, loaded: LoadedConfig, paths: Paths, **kw: Any) -> Gateway:
        return cls(loaded.config, paths, config_path=loaded.path, **kw)

    def exposure(self, mode: ExposureMode) -> Exposure:
        if mode not in self._exposures:
            self._exposures[mode] = make_exposure(
                mode,
                catalog=self.catalog,
                service=self.service,
                meta=self.meta,
                settings=self.config.exposure,
            )
        return self._exposures[mode]

    def new_session(
        self,
        *,
        client_name: str = "",
        client_version: str = "",
        protocol_version: str = "",
        transport: str = "stdio",
        session_id: str | None = None,
        register: bool = True,
    ) -> Session:
        mode = choose_mode(self.config.exposure, client_name, protocol_version, len(self.catalog))
        session = Session(
            client_name=client_name,
            client_version=client_version,
            protocol_version=protocol_version,
            transport=transport,
            mode=mode,
        )
        if session_id:
            session.id = session_id
        if register:
            self.sessions.add(session)
        log.info(
            "session_started", session_id=session.id, client=client_name, protocol=protocol_version, mode=mode
        )
        return session

    def _spec(self, server: ServerConfig) -> ServerSpec:
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
        )
        return ServerSpec(
            name=server.name,
            transport=transport,
            timeout=server.timeout,
            max_concurrency=server.max_concurrency,
            fingerprint=_fingerprint(server),
        )

    @property
    def learner(self) -> Learner | None:
        return self.router.learner

    # ------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Gateway:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        await self.pool.__aenter__()
        if self.config.builtins:
            # listed from the generated tools.json; the tools' code is imported at the first call
            self.pool.add(
                ServerSpec(
                    name="cloud",
                    transport=builtin_transport(
                        "ucp.builtins.cloud.server:SERVER", name="cloud", listing=CLOUD_LISTING
                    ),
                    timeout=120,
                    max_concurrency=2,
                    source="builtin",
                )
            )
        for server in self.config.servers.values():
            if server.enabled:
                self.pool.add(self._spec(server))
        self.services.load()
        self._tg.start_soon(self._notify_loop)
        self._tg.start_soon(self._save_learning_loop)
        self.router.start(self._tg)
        if self.watch_config and self.config_path is not None:
            self._config_mtime = self._mtime()
            self._tg.start_soon(self._watch_loop)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        assert self._tg is not None
        for leftover in self._prespawned.values():  # pre-spawned but never adopted (e.g. disabled)
            leftover.process.kill()
            if leftover.errlog is not None:
                leftover.errlog.close()
        self._prespawned.clear()
        try:
            await self.pool.__aexit__(exc_type, exc, tb)
        finally:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
            self.router.close()
            learner = self.router.learner_loaded
            if learner is not None:
                try:
                    learner.close()
                except Exception:
                    log.exception("learning_state_not_saved")
        return None

    async def wait_ready(self, timeout: float | None = None, *, live: bool = False) -> None:
        """Until every server is listed (``live``: connected or failed once, not from last-known lists)."""
        await self.pool.wait_initial(
            self.config.exposure.initial_wait if timeout is None else timeout, live=live
        )

    # ------------------------------------------------------------ change propagation
    def _on_pool_change(self, server: str, kinds: set[str]) -> None:
        conn = self.pool.connections.get(server)
        spec = self.pool.specs.get(server)
        if "removed" in kinds or conn is None:
            self.catalog.remove_server(server)
            self.directory.remove_server(server)
            self._other_changed |= {"resources", "prompts"}
            self._changed.set()
            return
        if "tools" in kinds:
            cfg = self.config.servers.get(server)
            self.catalog.set_server_tools(
                server,
                conn.snapshot.tools,
                tags=cfg.tags if cfg else (),
                pinned=cfg.pinned if cfg else (),
                withdrawn_outputs=lambda name: self.pool.outputs.is_withdrawn(server, name),
            )
        if kinds & {"resources", "prompts"}:
            snap = conn.snapshot
            self.directory.set_server(
                server, prompts=snap.prompts, resources=snap.resources, templates=snap.templates
            )
            self._other_changed |= kinds & {"resources", "prompts"}
            self._changed.set()
        if "state" in kinds:
            self.catalog.set_health(server, conn.healthy)
        del spec

    def _on_catalog_change(self, change: CatalogChange) -> None:
        self.router.on_catalog_change(change)
        touched = [
            self.catalog.entries[n] for n in (*change.added, *change.changed) if n in self.catalog.entries
        ]
        try:
            for info in self.pins.observe(touched):
                log.warning(
                    "tool_definition_changed",
                    server=info["server"],
                    tool=info["tool"],
                    pinned=info["pinned"],
                    now=info["now"],
                    hint="review it, then `ucp trust approve NAME` (trust on first use)",
                )
        except OSError as exc:
            log.warning("pins_not_saved", error=str(exc))
        if change.added or change.removed or change.changed:
            self._changed.set()

    async def _save_learning_loop(self, interval: float = 2.0) -> None:
        """Persist learning state off the protocol loop; compact the event log hourly."""
        last_compact = 0.0
        while True:
            await anyio.sleep(interval)
            learner = self.router.learner_loaded
            if learner is None:
                continue
            try:
                await anyio.to_thread.run_sync(learner.save)
                now = anyio.current_time()
                if now - last_compact > 3600 and learner.store is not None:
                    last_compact = now
                    await anyio.to_thread.run_sync(learner.store.compact)
            except Exception:
                log.exception("learning_save_failed")

    async def _notify_loop(self) -> None:
        """Debounced list_changed upstream: one notification for a burst of changes."""
        while True:
            await self._changed.wait()
            await anyio.sleep(0.05)
            self._changed = anyio.Event()
            other, self._other_changed = tuple(sorted(self._other_changed)), set()
            await self.sessions.broadcast_tools_changed(other)

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
        self._changed.set()
        return {"added": added, "removed": removed, "changed": changed}
