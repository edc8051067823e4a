"""``SessionFacade``: the one implementation of ``SessionAPI`` (see ``api.py``).

It holds the session store, the exposure strategies, the meta-tools and the
call path, and answers every front the same way: MCP's ``tools/list`` and
``tools/call`` go through the session's exposure strategy (meta-tools, working
set), REST/UTCP/CLI use ``tools`` / ``search`` / ``describe`` / ``call`` with
errors raised from the ``ucp.errors`` hierarchy. Built by the composition root.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from ucp.config.models import ExposureMode, ExposureSettings
from ucp.downstream.base import CallHooks
from ucp.errors import (
    InvalidArgumentsError,
    UCPError,
    UnknownPromptError,
    UnknownResourceError,
    UnknownSessionError,
)
from ucp.events import ChangeBus
from ucp.identity import LOCAL, Identity
from ucp.log import get_logger
from ucp.pool.directory import Directory
from ucp.pool.pool import Pool
from ucp.router.base import Ranking
from ucp.router.catalog import Catalog, CatalogEntry
from ucp.router.pins import PinStore
from ucp.session import metatools
from ucp.session.api import SearchResult, ToolView
from ucp.session.calls import CallPath
from ucp.session.exposure import Exposure, choose_mode, make_exposure
from ucp.session.manager import SessionManager
from ucp.session.metatools import MetaTools
from ucp.session.state import Session
from ucp.session.text import signature

log = get_logger("ucp.session")

MAX_RANKED = 200  # most tools in one ranked list (the meta-tool's own cap is lower: max_limit)


def tool_view(
    entry: CatalogEntry, *, healthy: bool = True, flagged: bool = False, score: float | None = None
) -> ToolView:
    tool = entry.exposed_tool()
    annotations = (
        tool.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
        if tool.annotations
        else None
    )
    return ToolView(
        name=entry.exposed,
        server=entry.server,
        tool=entry.tool.name,
        description=entry.description,
        signature=signature(entry.tool.input_schema),
        input_schema=dict(tool.input_schema or {}),
        output_schema=dict(tool.output_schema) if tool.output_schema else None,
        annotations=annotations,
        tags=entry.doc.tags,
        healthy=healthy,
        flagged=flagged,
        score=round(score, 4) if score is not None else None,
    )


class SessionFacade:
    def __init__(
        self,
        *,
        catalog: Catalog,
        pool: Pool,
        directory: Directory,
        calls: CallPath,
        meta: MetaTools,
        pins: PinStore,
        settings: ExposureSettings,
        events: ChangeBus,
        store: SessionManager | None = None,
    ) -> None:
        self.catalog = catalog
        self.pool = pool
        self.directory = directory
        self.calls = calls
        self.meta = meta
        self.pins = pins
        self.settings = settings
        self.store = store if store is not None else SessionManager()
        self._events = events
        self._exposures: dict[ExposureMode, Exposure] = {}
        self._meta_schemas: dict[str, dict[str, Any]] | None = None

    @property
    def events(self) -> ChangeBus:
        return self._events

    async def ready(self, timeout: float | None = None) -> None:
        await self.pool.wait_initial(self.settings.initial_wait if timeout is None else timeout)

    # ------------------------------------------------------------ sessions
    def open(
        self,
        *,
        client_name: str = "",
        client_version: str = "",
        protocol_version: str = "",
        transport: str = "stdio",
        session_id: str | None = None,
        register: bool = True,
        identity: Identity | None = None,
    ) -> Session:
        mode = choose_mode(self.settings, client_name, protocol_version, len(self.catalog))
        session = Session(
            client_name=client_name,
            client_version=client_version,
            protocol_version=protocol_version,
            transport=transport,
            mode=mode,
            identity=identity or LOCAL,
        )
        if session_id:
            session.id = session_id
        if register:
            self.store.add(session)
        log.info(
            "session_started",
            session_id=session.id,
            client=client_name,
            protocol=protocol_version,
            mode=mode,
            identity=session.identity.subject,
            tenant=session.identity.tenant,
        )
        return session

    def get(self, session_id: str, identity: Identity | None = None) -> Session:
        session = self.store.get(session_id)
        if session is not None and identity is not None and not session.belongs_to(identity):
            session = None  # another identity's session does not exist for this one
        if session is None:
            raise UnknownSessionError(
                f"no session {session_id!r} (sessions end when idle; create one with POST /api/v1/sessions)",
                session_id=session_id,
            )
        return session

    def close(self, session_id: str) -> None:
        self.store.remove(session_id)

    def sessions(self) -> list[Session]:
        return self.store.all()

    # ------------------------------------------------------------ MCP
    def exposure(self, mode: ExposureMode) -> Exposure:
        if mode not in self._exposures:
            self._exposures[mode] = make_exposure(
                mode,
                catalog=self.catalog,
                service=self.calls,
                meta=self.meta,
                settings=self.settings,
                events=self._events,
            )
        return self._exposures[mode]

    def list_tools(self, session: Session) -> list[types.Tool]:
        tools = [self._with_warning(t) for t in self.exposure(session.mode).list_tools(session)]
        session.listed_version = self.catalog.version
        return tools

    def _with_warning(self, tool: types.Tool) -> types.Tool:
        """A withheld or injection-looking tool is listed with the trust store's warning first."""
        warning = self.pins.warning_for(tool.name)
        if warning is None:
            return tool
        return tool.model_copy(update={"description": f"[{warning}] {tool.description or ''}".strip()})

    async def call_tool(
        self, session: Session, name: str, arguments: dict[str, Any], hooks: CallHooks | None = None
    ) -> types.CallToolResult:
        return await self.exposure(session.mode).call_tool(session, name, arguments, hooks)

    def input_schema(self, name: str) -> dict[str, Any] | None:
        if name in metatools.NAMES:
            if self._meta_schemas is None:
                self._meta_schemas = {
                    t.name: t.input_schema for t in metatools.definitions(self.meta.max_limit)
                }
            return self._meta_schemas.get(name)
        entry = self.catalog.resolve(name)
        return entry.tool.input_schema if entry is not None else None

    # ------------------------------------------------------------ REST, UTCP, CLI
    def view(self, entry: CatalogEntry, score: float | None = None) -> ToolView:
        return tool_view(
            entry,
            healthy=self.catalog.is_healthy(entry.exposed),
            flagged=self.meta.is_flagged(entry.exposed),
            score=score,
        )

    def tools(self, server: str | None = None, *, identity: Identity | None = None) -> list[ToolView]:
        entries = [e for e in self.catalog.sorted_entries() if not server or e.server == server]
        return [self.view(e) for e in self.calls.guard.filter(identity or LOCAL, entries)]

    def result(self, ranking: Ranking) -> SearchResult:
        return SearchResult(
            query=ranking.query,
            mode=ranking.mode,
            tools=[self.view(r.entry, r.score) for r in ranking.results],
        )

    async def search(
        self,
        session: Session,
        query: str,
        *,
        limit: int | None = None,
        server: str | None = None,
        record: bool = True,
    ) -> SearchResult:
        if not query.strip():
            raise InvalidArgumentsError("the search needs a non-empty query", field="query")
        limit = self.meta.default_limit if limit is None else limit
        if not 1 <= limit <= MAX_RANKED:
            raise InvalidArgumentsError(f"limit must be from 1 to {MAX_RANKED}", field="limit")
        ranking = await self.meta.rank(session, query, limit=limit, server=server, record=record)
        return self.result(ranking)

    def describe(self, session: Session, name: str) -> ToolView:
        entry = self.calls.resolve(name, session)
        session.touch()
        return self.view(entry)

    async def call(
        self, session: Session, name: str, arguments: dict[str, Any], *, hooks: CallHooks | None = None
    ) -> types.CallToolResult:
        return await self.calls.call(session, name, arguments, hooks=hooks, validate=True)

    def add_context(self, session: Session, text: str) -> None:
        session.add_context(text)

    # ------------------------------------------------------------ resources and prompts
    def list_resources(self) -> list[types.Resource]:
        return self.directory.list_resources()

    def list_resource_templates(self) -> list[types.ResourceTemplate]:
        return self.directory.list_templates()

    def _resource_target(self, uri: str) -> tuple[str, str]:
        target = self.directory.resolve_resource(uri)
        if target is None:
            raise UnknownResourceError(f"no server publishes the resource {uri!r}", uri=uri)
        return target

    async def read_resource(self, uri: str) -> types.ReadResourceResult:
        server, own_uri = self._resource_target(uri)
        result = await self.pool.read_resource(server, own_uri)
        if own_uri != uri:
            contents = [c.model_copy(update={"uri": uri}) for c in result.contents]
            result = result.model_copy(update={"contents": contents})
        return result

    async def subscribe_resource(self, session: Session, uri: str) -> None:
        server, own_uri = self._resource_target(uri)
        served = await self.pool.subscribe_resource(server, own_uri)
        session.subscriptions.add(uri)
        session.touch()
        if not served:
            log.info("resource_subscription_not_served", server=server, uri=uri)

    async def unsubscribe_resource(self, session: Session, uri: str) -> None:
        session.subscriptions.discard(uri)
        target = self.directory.resolve_resource(uri)
        if target is None:
            return
        if any(uri in s.subscriptions for s in self.store.all()):
            return  # another session still wants it
        await self.pool.unsubscribe_resource(*target)

    def list_prompts(self) -> list[types.Prompt]:
        return self.directory.list_prompts()

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> types.GetPromptResult:
        target = self.directory.resolve_prompt(name)
        if target is None:
            raise UnknownPromptError(f"unknown prompt {name!r}", prompt=name)
        server, own = target
        return await self.pool.get_prompt(server, own, arguments)

    async def complete(
        self,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: dict[str, str],
        context_arguments: dict[str, str] | None,
    ) -> types.CompleteResult:
        empty = types.CompleteResult(completion=types.Completion(values=[]))
        server: str | None = None
        if isinstance(ref, types.PromptReference):
            target = self.directory.resolve_prompt(ref.name)
            if target:
                server, own = target
                ref = ref.model_copy(update={"name": own})
        else:
            server = self.directory.server_of_template(ref.uri)
        if server is None:
            return empty
        try:
            return await self.pool.complete(server, ref, argument, context_arguments)
        except UCPError:
            return empty
