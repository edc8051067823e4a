"""Per-session state: who the client is, what it searched and called, its context.

A session is one upstream connection (a stdio process, an HTTP ``Mcp-Session-Id``)
or one REST session. What happens in it (search queries, calls and their
arguments, context pushed by an orchestrator) feeds the next ranking.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from ucp.config.models import ExposureMode
from ucp.identity import LOCAL, Identity
from ucp.session.working_set import WorkingSet

HistoryKind = Literal["search", "call", "context", "describe"]
MAX_HISTORY = 200


@dataclass(frozen=True)
class HistoryItem:
    kind: HistoryKind
    at: float
    text: str = ""
    tool: str | None = None
    arguments: dict[str, Any] | None = None
    outcome: str | None = None
    duration_ms: float | None = None
    results: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "at": self.at}
        for key in ("text", "tool", "arguments", "outcome", "duration_ms"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value
        if self.results:
            out["results"] = list(self.results)
        return out


@dataclass
class Session:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    client_name: str = ""
    client_version: str = ""
    protocol_version: str = ""
    transport: str = "stdio"
    mode: ExposureMode = "full"
    created_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.time)
    history: deque[HistoryItem] = field(default_factory=lambda: deque(maxlen=MAX_HISTORY))
    working_set: WorkingSet | None = None  # dynamic mode only
    listed_version: int = -1
    subscriptions: set[str] = field(default_factory=set)  # resource URIs (as exposed) subscribed to
    identity: Identity = LOCAL  # who authenticated the connection that opened it

    def belongs_to(self, identity: Identity) -> bool:
        """Is ``identity`` the one this session was opened for (a refreshed token is the same)?"""
        return (self.identity.tenant, self.identity.subject, self.identity.via) == (
            identity.tenant,
            identity.subject,
            identity.via,
        )

    def touch(self) -> None:
        self.last_seen = time.time()

    def record(self, item: HistoryItem) -> None:
        self.history.append(item)
        self.touch()

    def add_context(self, text: str) -> None:
        self.record(HistoryItem(kind="context", at=time.time(), text=text[:4000]))

    def calls(self) -> list[str]:
        """Exposed names of the tools called in this session, oldest first."""
        return [i.tool for i in self.history if i.kind == "call" and i.tool]

    def recent_calls(self, n: int = 5) -> tuple[str, ...]:
        """The last ``n`` calls, oldest first."""
        return tuple(self.calls()[-n:]) if n > 0 else ()

    @property
    def last_called(self) -> str | None:
        """The most recent call (the one just recorded, when asked from a call observer)."""
        recent = self.recent_calls(1)
        return recent[0] if recent else None

    def previous_call(self) -> str | None:
        """The call before the most recent one: what a call observer calls "the call before this one"."""
        recent = self.recent_calls(2)
        return recent[0] if len(recent) == 2 else None

    def context_text(self, max_items: int = 6) -> str:
        """Recent queries, context and called tools, newest first: the session's context signal."""
        parts: list[str] = []
        for item in reversed(self.history):
            if item.kind in ("search", "context") and item.text:
                parts.append(item.text)
            elif item.kind == "call" and item.tool:
                parts.append(item.tool.replace("__", " ").replace("_", " "))
            if len(parts) >= max_items:
                break
        return " ".join(parts)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client": {"name": self.client_name, "version": self.client_version},
            "protocol_version": self.protocol_version,
            "transport": self.transport,
            "mode": self.mode,
            "identity": self.identity.subject,
            "tenant": self.identity.tenant,
            "created_at": self.created_at,
            "last_seen": self.last_seen,
            "history_length": len(self.history),
            "working_set": list(self.working_set.names()) if self.working_set is not None else None,
        }
