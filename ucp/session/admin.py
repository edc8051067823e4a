"""``AdminFacade``: the one implementation of ``AdminAPI`` (see ``api.py``).

Health and status for ``/healthz``, ``ucp doctor`` and the dashboard; the
self-registered services for ``/registry``. Reads the pool, catalog, router and
trust pins it is given; changes nothing but the service registrations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

import ucp
from ucp.pool.pool import Pool
from ucp.pool.services import SelfRegisteredServices
from ucp.router.catalog import Catalog
from ucp.router.pins import PinStore
from ucp.session.api import Health
from ucp.session.manager import SessionManager

if TYPE_CHECKING:
    from ucp.router.router import Router


class AdminFacade:
    def __init__(
        self,
        *,
        pool: Pool,
        catalog: Catalog,
        pins: PinStore,
        sessions: SessionManager,
        services: SelfRegisteredServices,
        dense_ready: Callable[[], bool],
        router: Router | None = None,
    ) -> None:
        self.pool = pool
        self.catalog = catalog
        self.pins = pins
        self.store = sessions
        self.registrations = services
        self._dense_ready = dense_ready
        self.router = router

    def health(self) -> Health:
        servers = self.pool.status()
        return Health(
            version=ucp.__version__,
            servers_total=len(servers),
            servers_healthy=sum(1 for s in servers if s.healthy),
            tools=len(self.catalog),
            sessions=len(self.store),
            dense_ready=self._dense_ready(),
            changed_definitions=len(self.pins.changed),
            catalog_loaded=all(
                c.listed.is_set() or c.first_attempt_done.is_set() for c in self.pool.connections.values()
            ),
        )

    def servers(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.pool.status()]

    async def register_service(
        self,
        name: str,
        *,
        manual_url: str | None = None,
        base_url: str | None = None,
        tags: Sequence[str] = (),
        version: str = "",
        environment: str = "",
        description: str = "",
        ttl: float | None = None,
    ) -> tuple[dict[str, Any], bool]:
        record, created = await self.registrations.register(
            name,
            manual_url=manual_url,
            base_url=base_url,
            tags=tuple(tags),
            version=version,
            environment=environment,
            description=description,
            ttl=ttl,
        )
        return record.to_dict(), created

    async def deregister_service(self, name: str) -> dict[str, Any]:
        return (await self.registrations.deregister(name)).to_dict()

    def service(self, name: str) -> dict[str, Any]:
        return self.registrations.get(name).to_dict()

    def services(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.registrations.all()]

    def service_health(self, name: str) -> dict[str, Any]:
        return self.registrations.health(name)

    def service_tools(self, name: str) -> list[str]:
        return sorted(e.exposed for e in self.catalog.entries.values() if e.server == name)

    async def explain(
        self, query: str, *, limit: int = 10, server: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        if self.router is None:
            return [], "none"
        return await self.router.explain(query, limit=limit, server=server)

    async def learning(self, days: int = 14) -> dict[str, Any]:
        learner = self.router.learner if self.router is not None else None
        store = learner.store if learner is not None else None
        if learner is None or store is None:
            return {"tools": [], "daily": [], "events": 0, "path": None}
        await anyio.to_thread.run_sync(learner.save)
        # shared state: the statistics are the shared ones the learner holds, not the events store's
        found = learner.stats() if learner.shared else [r.to_dict() for r in store.load_tools()]
        rows = sorted(found, key=lambda r: (-r["shown"], r["tool"]))
        return {
            "tools": rows,
            "daily": store.daily(days),
            "events": store.count_events(),
            "path": str(store.path),
        }

    def changed_definitions(self) -> dict[str, dict[str, str]]:
        return {k: dict(v) for k, v in sorted(self.pins.changed.items())}
