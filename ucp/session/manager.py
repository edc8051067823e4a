"""All live sessions, bounded by count and idle time (notifications travel on the change bus)."""

from __future__ import annotations

import time
from collections import OrderedDict

from ucp.log import get_logger
from ucp.session.state import Session

log = get_logger("ucp.session")


class SessionManager:
    def __init__(self, *, max_sessions: int = 2000, idle_timeout: float = 6 * 3600) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout

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
