"""Exposure modes: which tools a session sees, as a strategy the session holds.

- ``full``: the whole catalog, namespaced. For small catalogs.
- ``search``: a fixed list: the meta-tools plus pinned tools. Works in every host,
  and is the only honest choice for 2026-era clients (the 2026-07-28 spec forbids
  a tool list that varies per connection).
- ``dynamic``: the meta-tools, pinned tools and the session's working set (grown
  by searches and calls, capped by count and tokens); list_changed on each change.
  Only for hosts known to honour list_changed.

``choose_mode`` implements ``auto`` (see DESIGN.md §2 for the evidence).
"""

from __future__ import annotations

from typing import Any, Protocol

import mcp_types as types
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ucp.config.models import ExposureMode, ExposureSettings
from ucp.downstream.base import CallHooks
from ucp.events import Change, ChangeBus, ChangeKind
from ucp.router.catalog import Catalog
from ucp.session import metatools
from ucp.session.calls import CallPath
from ucp.session.metatools import MetaTools
from ucp.session.state import Session
from ucp.session.tokens import tool_tokens
from ucp.session.working_set import WorkingSet

# clientInfo.name substrings of hosts that act on tools/list_changed (notes §2). Lower case.
SELF = "ucp"  # the server name of changes UCP itself makes (a session's working set)

HONOURS_LIST_CHANGED = (
    "visual studio code",
    "claude-code",
    "windsurf",
    "goose",
    "cline",
    "copilot",
    "warp",
)


def choose_mode(
    settings: ExposureSettings, client_name: str, protocol_version: str, catalog_size: int
) -> ExposureMode:
    if settings.mode != "auto":
        return settings.mode
    lowered = client_name.lower()
    for pattern, mode in settings.client_modes.items():
        if pattern.lower() in lowered:
            return mode
    if catalog_size <= settings.full_threshold:
        return "full"
    if protocol_version in MODERN_PROTOCOL_VERSIONS:
        return "search"
    if any(h in lowered for h in HONOURS_LIST_CHANGED):
        return "dynamic"
    return "search"


class Exposure(Protocol):
    mode: ExposureMode

    def list_tools(self, session: Session) -> list[types.Tool]: ...

    async def call_tool(
        self, session: Session, name: str, arguments: dict[str, Any], hooks: CallHooks | None
    ) -> types.CallToolResult: ...


class FullExposure:
    mode: ExposureMode = "full"

    def __init__(self, catalog: Catalog, service: CallPath) -> None:
        self.catalog = catalog
        self.service = service

    def list_tools(self, session: Session) -> list[types.Tool]:
        entries = self.service.guard.filter(session.identity, self.catalog.sorted_entries())
        return [e.exposed_tool() for e in entries]

    async def call_tool(
        self, session: Session, name: str, arguments: dict[str, Any], hooks: CallHooks | None
    ) -> types.CallToolResult:
        return await self.service.call(session, name, arguments, hooks=hooks)


class SearchExposure:
    """Meta-tools + pinned tools. Direct calls of any catalog tool still work."""

    mode: ExposureMode = "search"

    def __init__(self, catalog: Catalog, service: CallPath, meta: MetaTools) -> None:
        self.catalog = catalog
        self.service = service
        self.meta = meta
        self._definitions = metatools.definitions(meta.max_limit)

    def pinned(self, session: Session) -> list[types.Tool]:
        pinned = (e for e in self.catalog.sorted_entries() if e.pinned)
        return [e.exposed_tool() for e in self.service.guard.filter(session.identity, pinned)]

    def list_tools(self, session: Session) -> list[types.Tool]:
        return [*self._definitions, *self.pinned(session)]

    async def call_tool(
        self, session: Session, name: str, arguments: dict[str, Any], hooks: CallHooks | None
    ) -> types.CallToolResult:
        if name == metatools.SEARCH:
            result, _ranking = await self.meta.search(session, arguments)
            return result
        if name == metatools.DESCRIBE:
            return self.meta.describe(session, arguments)
        if name in metatools.CALLS:
            result, _entry = await self.meta.call(
                session, arguments, hooks, read_only_only=name == metatools.CALL_READ_ONLY
            )
            return result
        return await self.service.call(session, name, arguments, hooks=hooks)


class DynamicExposure(SearchExposure):
    """Search mode plus a per-session working set of first-class tools."""

    mode: ExposureMode = "dynamic"

    def __init__(
        self,
        catalog: Catalog,
        service: CallPath,
        meta: MetaTools,
        settings: ExposureSettings,
        events: ChangeBus,
    ) -> None:
        super().__init__(catalog, service, meta)
        self.settings = settings
        self.events = events  # the client-facing bus: a working-set change concerns this session only

    def working_set(self, session: Session) -> WorkingSet:
        if session.working_set is None:
            session.working_set = WorkingSet(
                self.settings.dynamic_max_tools, self.settings.dynamic_token_budget
            )
        ws: WorkingSet = session.working_set
        return ws

    def list_tools(self, session: Session) -> list[types.Tool]:
        ws = self.working_set(session)
        gone = [n for n in ws.names() if n not in self.catalog.entries]
        ws.discard(gone)
        pinned = self.pinned(session)
        pinned_names = {t.name for t in pinned}
        guard = self.service.guard
        members = [
            self.catalog.entries[n].exposed_tool()
            for n in ws.names()
            if n not in pinned_names and guard.visible(session.identity, self.catalog.entries[n])
        ]
        return [*self._definitions, *pinned, *members]

    async def call_tool(
        self, session: Session, name: str, arguments: dict[str, Any], hooks: CallHooks | None
    ) -> types.CallToolResult:
        ws = self.working_set(session)
        changed = False
        if name == metatools.SEARCH:
            result, ranking = await self.meta.search(session, arguments)
            if ranking is not None:
                changed = ws.add_hits(
                    (r.entry.exposed, tool_tokens(r.entry.exposed_tool()), r.score) for r in ranking.results
                )
        elif name in metatools.CALLS:
            result, entry = await self.meta.call(
                session, arguments, hooks, read_only_only=name == metatools.CALL_READ_ONLY
            )
            if entry is not None and not result.is_error:
                changed = ws.touch_call(entry.exposed, tool_tokens(entry.exposed_tool()))
        elif name == metatools.DESCRIBE:
            result = self.meta.describe(session, arguments)
        else:
            result = await self.service.call(session, name, arguments, hooks=hooks)
            entry = self.service.lookup(name, session)
            if entry is not None and not result.is_error:
                changed = ws.touch_call(entry.exposed, tool_tokens(entry.exposed_tool()))
        if changed:
            self.events.publish(Change(SELF, frozenset({ChangeKind.TOOLS}), session_id=session.id))
        return result


def make_exposure(
    mode: ExposureMode,
    *,
    catalog: Catalog,
    service: CallPath,
    meta: MetaTools,
    settings: ExposureSettings,
    events: ChangeBus,
) -> Exposure:
    if mode == "full":
        return FullExposure(catalog, service)
    if mode == "search":
        return SearchExposure(catalog, service, meta)
    return DynamicExposure(catalog, service, meta, settings, events)
