"""The tool zoo: every tool of every downstream in one catalog.

Each entry holds the downstream's own definition, its exposed name
(``<server>__<tool>``, see ``ucp.naming``), its content hash and the ``ToolDoc``
the retrievers rank. The catalog changes only through ``set_server_tools`` /
``remove_server`` / ``set_health``; each change bumps ``version`` and tells the
listeners what changed, so the router index and the sessions update
incrementally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from ucp.naming import NameMap
from ucp.router.documents import ToolDoc


@dataclass(frozen=True)
class CatalogEntry:
    exposed: str
    server: str
    tool: types.Tool
    doc: ToolDoc
    pinned: bool = False

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def content_hash(self) -> str:
        return self.doc.content_hash

    @property
    def description(self) -> str:
        return self.tool.description or ""

    def exposed_tool(self) -> types.Tool:
        """The definition as UCP lists it: exposed name; everything else as the server said."""
        meta = dict(self.tool.meta or {})
        meta["ucp/server"] = self.server
        meta["ucp/tool"] = self.tool.name
        return self.tool.model_copy(update={"name": self.exposed, "meta": meta})


@dataclass(frozen=True)
class CatalogChange:
    server: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    health: bool = False

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.health)


def _tags_of(tool: types.Tool, server_tags: Iterable[str]) -> tuple[str, ...]:
    tags = list(server_tags)
    meta_tags = (tool.meta or {}).get("ucp/tags")
    if isinstance(meta_tags, list):
        tags.extend(str(t) for t in meta_tags)
    return tuple(dict.fromkeys(tags))


def make_doc(exposed: str, server: str, tool: types.Tool, tags: Iterable[str] = ()) -> ToolDoc:
    return ToolDoc(
        key=exposed,
        name=tool.name,
        server=server,
        description=tool.description or "",
        input_schema=dict(tool.input_schema or {}),
        tags=_tags_of(tool, tags),
        title=tool.title
        or (tool.annotations.title if tool.annotations and tool.annotations.title else "")
        or "",
    )


@dataclass
class Catalog:
    names: NameMap = field(default_factory=NameMap)
    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    healthy: dict[str, bool] = field(default_factory=dict)
    version: int = 0
    _listeners: list[Callable[[CatalogChange], None]] = field(default_factory=list)

    def subscribe(self, listener: Callable[[CatalogChange], None]) -> None:
        self._listeners.append(listener)

    def _publish(self, change: CatalogChange) -> None:
        if change.empty:
            return
        self.version += 1
        for listener in list(self._listeners):
            listener(change)

    # ------------------------------------------------------------ updates
    def set_server_tools(
        self,
        server: str,
        tools: Iterable[types.Tool],
        *,
        tags: Iterable[str] = (),
        pinned: Iterable[str] = (),
        withdrawn_outputs: Callable[[str], bool] = lambda _name: False,
    ) -> CatalogChange:
        tags, pinned_set = tuple(tags), set(pinned)
        before = {e.exposed: e for e in self.entries.values() if e.server == server}
        fresh: dict[str, CatalogEntry] = {}
        for tool in tools:
            if withdrawn_outputs(tool.name) and tool.output_schema is not None:
                tool = tool.model_copy(update={"output_schema": None})
            exposed = self.names.add(server, tool.name)
            fresh[exposed] = CatalogEntry(
                exposed=exposed,
                server=server,
                tool=tool,
                doc=make_doc(exposed, server, tool, tags),
                pinned=tool.name in pinned_set,
            )
        self.names.retain(server, {e.tool.name for e in fresh.values()})
        for name in before:
            self.entries.pop(name, None)
        self.entries.update(fresh)
        self.healthy.setdefault(server, True)
        change = CatalogChange(
            server=server,
            added=tuple(sorted(set(fresh) - set(before))),
            removed=tuple(sorted(set(before) - set(fresh))),
            changed=tuple(
                sorted(n for n in set(fresh) & set(before) if _definition(fresh[n]) != _definition(before[n]))
            ),
        )
        self._publish(change)
        return change

    def remove_server(self, server: str) -> CatalogChange:
        removed = tuple(sorted(e.exposed for e in self.entries.values() if e.server == server))
        for name in removed:
            del self.entries[name]
        self.names.remove_server(server)
        self.healthy.pop(server, None)
        change = CatalogChange(server=server, removed=removed)
        self._publish(change)
        return change

    def set_health(self, server: str, healthy: bool) -> CatalogChange:
        if self.healthy.get(server) == healthy:
            return CatalogChange(server=server)
        self.healthy[server] = healthy
        change = CatalogChange(server=server, health=True)
        self._publish(change)
        return change

    # ------------------------------------------------------------ queries
    def resolve(self, exposed: str) -> CatalogEntry | None:
        return self.entries.get(exposed)

    def is_healthy(self, exposed: str) -> bool:
        entry = self.entries.get(exposed)
        return entry is not None and self.healthy.get(entry.server, False)

    def sorted_entries(self) -> list[CatalogEntry]:
        """Deterministic order (server, then tool name): stable lists help prompt caching."""
        return sorted(self.entries.values(), key=lambda e: (e.server, e.tool.name))

    def docs(self) -> list[ToolDoc]:
        return [e.doc for e in self.sorted_entries()]

    def servers(self) -> list[str]:
        return sorted({e.server for e in self.entries.values()} | set(self.healthy))

    def __len__(self) -> int:
        return len(self.entries)


def _definition(entry: CatalogEntry) -> Any:
    return entry.tool.model_dump(mode="json", by_alias=True, exclude_none=True)
