"""Keeps what the session layer derives from the pool up to date, and tells clients.

The pool publishes what its downstreams did (``ucp.events``). ``CatalogSync``
subscribes, brings the catalog (tools, health), the directory (resources,
prompts) and the trust pins in line at once, on the publisher's task, so a
listing right after a change is already current, and then re-publishes on the
client-facing bus what clients must hear: one ``tools``/``resources``/``prompts``
change per burst (debounced), and every ``resource_updated`` as it comes, with the
URI mapped to the one clients know. The fronts subscribe to that bus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import anyio

from ucp.config.models import ServerConfig
from ucp.events import LISTS, Change, ChangeBus, ChangeKind
from ucp.log import get_logger
from ucp.pool.directory import Directory
from ucp.pool.pool import Pool
from ucp.router.catalog import Catalog, CatalogChange
from ucp.router.pins import PinStore

log = get_logger("ucp.session.sync")

EVERYONE = "*"  # the server name of a change that concerns every client


class CatalogSync:
    def __init__(
        self,
        pool: Pool,
        catalog: Catalog,
        directory: Directory,
        pins: PinStore,
        *,
        servers: Callable[[], Mapping[str, ServerConfig]],
        client_events: ChangeBus,
        debounce: float = 0.05,
    ) -> None:
        self.pool = pool
        self.catalog = catalog
        self.directory = directory
        self.pins = pins
        self.client_events = client_events
        self._servers = servers
        self._debounce = debounce
        self._pending: set[ChangeKind] = set()
        self._wake = anyio.Event()
        self._unsubscribe = pool.events.subscribe(self.on_pool_change)
        catalog.subscribe(self.on_catalog_change)

    def close(self) -> None:
        self._unsubscribe()

    # ------------------------------------------------------------ from the pool
    def on_pool_change(self, change: Change) -> None:
        server = change.server
        conn = self.pool.connections.get(server)
        if change.has(ChangeKind.REMOVED) or conn is None:
            self.catalog.remove_server(server)
            self.directory.remove_server(server)
            self._mark(ChangeKind.RESOURCES, ChangeKind.PROMPTS)
            return
        if change.has(ChangeKind.TOOLS):
            cfg = self._servers().get(server)
            self.catalog.set_server_tools(
                server,
                conn.snapshot.tools,
                tags=cfg.tags if cfg else (),
                pinned=cfg.pinned if cfg else (),
                withdrawn_outputs=lambda name: self.pool.outputs.is_withdrawn(server, name),
            )
        if change.has(ChangeKind.RESOURCES, ChangeKind.PROMPTS):
            snap = conn.snapshot
            self.directory.set_server(
                server, prompts=snap.prompts, resources=snap.resources, templates=snap.templates
            )
            self._mark(*(change.kinds & {ChangeKind.RESOURCES, ChangeKind.PROMPTS}))
        if change.has(ChangeKind.STATE):
            self.catalog.set_health(server, conn.healthy)
        if change.uri is not None:
            uri = self.directory.exposed_uri(server, change.uri)
            self.client_events.publish(Change.of(server, ChangeKind.RESOURCE_UPDATED, uri=uri))

    def on_catalog_change(self, change: CatalogChange) -> None:
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
            self._mark(ChangeKind.TOOLS)

    def tools_changed(self) -> None:
        """Something outside the pool changed what clients see (a registry reload)."""
        self._mark(ChangeKind.TOOLS)

    # ------------------------------------------------------------ to the clients
    def _mark(self, *kinds: ChangeKind) -> None:
        self._pending.update(kinds)
        self._wake.set()

    async def run(self) -> None:
        """Debounced: one client change for a burst of downstream changes."""
        while True:
            await self._wake.wait()
            await anyio.sleep(self._debounce)
            self._wake = anyio.Event()
            kinds, self._pending = frozenset(self._pending & LISTS), set()
            if ChangeKind.RESOURCES in kinds or ChangeKind.PROMPTS in kinds:
                kinds |= {ChangeKind.TOOLS}  # clients re-list tools with the rest (as before)
            if kinds:
                self.client_events.publish(Change(EVERYONE, kinds))
