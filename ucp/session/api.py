"""What the fronts may ask of the gateway: ``SessionAPI`` and ``AdminAPI``.

Every front (MCP over stdio/HTTP, REST, UTCP out, the CLI's in-process commands)
depends on these two protocols and on the plain value types below — never on
the composition root (``ucp.app``), the router or the pool. That keeps one
session-facing path: listing, searching, describing and calling go through the
same methods whichever front asked, and errors are the ``ucp.errors`` hierarchy
(each front maps them in one place: ``frontend/errors.py``).

``SessionAPI`` is what a client does in a session; ``AdminAPI`` is what an
operator reads or changes about the gateway (health, servers, self-registered
services).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import mcp_types as types

from ucp.downstream.base import CallHooks as CallHooks  # re-exported: fronts build hooks for calls
from ucp.events import ChangeBus
from ucp.identity import LOCAL as LOCAL  # re-exported: the identity of unauthenticated sessions
from ucp.identity import Identity as Identity  # re-exported: what the HTTP front authenticated
from ucp.session.state import Session as Session  # re-exported: the session fronts hold


@dataclass(frozen=True)
class ToolView:
    """One tool as a front shows it (exposed name; the server's definition otherwise)."""

    name: str
    server: str
    tool: str  # the server's own name for it
    description: str
    signature: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()
    healthy: bool = True
    flagged: bool = False  # its definition changed since UCP first saw it (not approved)
    score: float | None = None


@dataclass(frozen=True)
class SearchResult:
    query: str
    mode: str
    tools: list[ToolView] = field(default_factory=list)


@dataclass(frozen=True)
class Health:
    version: str
    servers_total: int
    servers_healthy: int
    tools: int
    sessions: int
    dense_ready: bool
    changed_definitions: int
    catalog_loaded: bool = True  # every configured server has been listed once (or failed its first try)


class SessionAPI(Protocol):
    @property
    def events(self) -> ChangeBus:
        """Client-facing changes: list changes for everyone, a working set for one session,
        resource updates (``ucp.events``)."""
        ...

    async def ready(self, timeout: float | None = None) -> None:
        """Until every server is listed (or ``timeout``; the configured initial wait by default)."""
        ...

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
    ) -> Session: ...

    def get(self, session_id: str, identity: Identity | None = None) -> Session:
        """The live session, else ``UnknownSessionError`` (also when it is another ``identity``'s)."""
        ...

    def close(self, session_id: str) -> None: ...

    def sessions(self) -> list[Session]: ...

    # ---- MCP: the session's exposure mode decides the list and routes meta-tool calls
    def list_tools(self, session: Session) -> list[types.Tool]: ...

    async def call_tool(
        self, session: Session, name: str, arguments: dict[str, Any], hooks: CallHooks | None = None
    ) -> types.CallToolResult: ...

    # ---- the same operations for REST, UTCP and the CLI (errors raise, results are values)
    def tools(self, server: str | None = None, *, identity: Identity | None = None) -> list[ToolView]:
        """Every tool ``identity`` may see (the local user's view by default)."""
        ...

    async def search(
        self,
        session: Session,
        query: str,
        *,
        limit: int | None = None,
        server: str | None = None,
        record: bool = True,
    ) -> SearchResult: ...

    def describe(self, session: Session, name: str) -> ToolView: ...

    async def call(
        self, session: Session, name: str, arguments: dict[str, Any], *, hooks: CallHooks | None = None
    ) -> types.CallToolResult:
        """Arguments validated against the tool's schema first (``InvalidArgumentsError``);
        unknown names raise ``UnknownToolError``; downstream failures are ``is_error`` results."""
        ...

    def add_context(self, session: Session, text: str) -> None: ...

    # ---- resources and prompts of every downstream
    def list_resources(self) -> list[types.Resource]: ...

    def list_resource_templates(self) -> list[types.ResourceTemplate]: ...

    async def read_resource(self, uri: str) -> types.ReadResourceResult: ...

    async def subscribe_resource(self, session: Session, uri: str) -> None: ...

    async def unsubscribe_resource(self, session: Session, uri: str) -> None: ...

    def list_prompts(self) -> list[types.Prompt]: ...

    async def get_prompt(self, name: str, arguments: dict[str, str]) -> types.GetPromptResult: ...

    async def complete(
        self,
        ref: types.PromptReference | types.ResourceTemplateReference,
        argument: dict[str, str],
        context_arguments: dict[str, str] | None,
    ) -> types.CompleteResult: ...


class AdminAPI(Protocol):
    def health(self) -> Health: ...

    def servers(self) -> list[dict[str, Any]]:
        """Every downstream's status (state, health, counts, last error)."""
        ...

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
        """The service's record and whether it is new (``ttl``: a lease, see pool/services.py)."""
        ...

    async def deregister_service(self, name: str) -> dict[str, Any]: ...

    def service(self, name: str) -> dict[str, Any]: ...

    def services(self) -> list[dict[str, Any]]: ...

    def service_health(self, name: str) -> dict[str, Any]: ...

    def service_tools(self, name: str) -> list[str]: ...

    # ---- for the command line (``ucp route explain``, ``ucp stats`` against a running gateway)
    async def explain(
        self, query: str, *, limit: int = 10, server: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Per-component scores of the top tools for ``query`` (nothing recorded) and the mode."""
        ...

    async def learning(self, days: int = 14) -> dict[str, Any]:
        """What the router learned, saved first: ``tools``, ``daily`` hit rates, ``events``, ``path``."""
        ...

    def changed_definitions(self) -> dict[str, dict[str, str]]:
        """Tools whose definition changed since UCP pinned it (trust flags), by exposed name."""
        ...
