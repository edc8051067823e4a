"""All live sessions, bounded; broadcasts list changes to them."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import anyio

from ucp.log import get_logger
from ucp.session.state import Session

log = get_logger("ucp.session")


class SessionManager:
    def __init__(self, *, max_sessions: int = 2000, idle_timeout: float = 6 * 3600) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.global_notifiers: list[Callable[[], Awaitable[None]]] = []

    def add(self, session: Session) -> Session:
        self._sessions[session.id] = session
        self._sessions.move_to_end(session.id)
        self._prune()
        return session

    def get(self, session_id: str) -> Session | None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
        return session

    def remove(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self) -> None:
        now = time.time()
        for sid in [s.id for s in self._sessions.values() if now - s.last_seen > self.idle_timeout]:
            self._sessions.pop(sid, None)
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)

    async def broadcast_tools_changed(self, other_kinds: tuple[str, ...] = ()) -> None:
        """Tell every session (and 2026-era listen streams) that the tool list changed
        (and the prompt/resource lists, when ``other_kinds`` says so)."""
        for session in self.all():
            if session.notify_tools_changed is None:
                continue
            try:
                with anyio.move_on_after(5):
                    await session.notify_tools_changed()
                    if session.notify_changed is not None:
                        for kind in other_kinds:
                            await session.notify_changed(kind)
            except Exception as exc:  # a gone client must not stop the others
                log.debug("notify_failed", session_id=session.id, error=repr(exc)[:200])
        for notify in list(self.global_notifiers):
            try:
                await notify()
            except Exception as exc:
                log.debug("notify_failed", target="bus", error=repr(exc)[:200])
