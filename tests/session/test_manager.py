"""The session store is bounded by count and idle time."""

from __future__ import annotations

import time

from ucp.session.manager import SessionManager
from ucp.session.state import Session


def test_count_bound_drops_the_least_recently_used() -> None:
    store = SessionManager(max_sessions=2)
    a, b, c = Session(), Session(), Session()
    store.add(a)
    store.add(b)
    assert store.get(a.id) is a  # a is now the most recent
    store.add(c)
    assert {s.id for s in store.all()} == {a.id, c.id}
    assert len(store) == 2
    store.remove(a.id)
    store.remove("no-such-session")
    assert store.all() == [c]


def test_idle_sessions_leave() -> None:
    store = SessionManager(idle_timeout=60)
    old = Session()
    old.last_seen = time.time() - 120
    store.add(old)
    fresh = store.add(Session())
    assert store.get(old.id) is None
    assert store.get(fresh.id) is fresh
