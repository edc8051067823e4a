"""The PostgreSQL feedback store's queue: bounded, kept across a failed flush (real PostgreSQL:
tests/integration/test_shared_learning.py and test_state_outage.py)."""

from __future__ import annotations

import psycopg
import pytest

from ucp.state.feedback import PgFeedbackStore

# a Unix socket that does not exist: the connection fails at once, without any network
UNREACHABLE = "postgresql:///ucp?host=/nonexistent-ucp-test-dir"


def test_the_queue_is_kept_when_the_database_is_unreachable_and_bounded() -> None:
    store = PgFeedbackStore(UNREACHABLE, max_pending=5, connect_timeout=1)
    for i in range(2):
        store.add_ranking(
            f"r{i}", ts=0.0, session="s", source="search", query="q", shown=[("t", 1, False)], mode="bm25"
        )
    assert len(store._pending) == 4  # a ranking and its day's counter each
    with pytest.raises(psycopg.OperationalError):
        store.flush()
    assert len(store._pending) == 4
    for i in range(2, 4):
        store.add_outcome(f"r{i}", ts=0.0, tool="t", rank=1, ok=True, error=None, first_hit=True)
    assert len(store._pending) == 5  # bounded: the oldest went
    assert store.dropped == 5  # 4 + 2 x 3 statements, 5 kept


def test_statistics_are_not_this_stores_business() -> None:
    store = PgFeedbackStore(UNREACHABLE)
    store.save_tools([object()])
    assert store.load_tools() == []
    assert store._pending == []
