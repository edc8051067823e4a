"""The PostgreSQL call records' buffer: bounded, kept across a failed flush (real PostgreSQL:
tests/integration/test_shared_analytics.py)."""

from __future__ import annotations

import psycopg
import pytest

from ucp.observe.records import CallRecord
from ucp.state.records import PgCallRecords

UNREACHABLE = "postgresql:///ucp?host=/nonexistent-ucp-test-dir"


def _record(i: int) -> CallRecord:
    return CallRecord(float(i), "s", "c", "srv", "t", "ok", None, 1.0, 0.5)


def test_rows_wait_for_the_database_and_the_buffer_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import ucp.state.records as records

    monkeypatch.setattr(records, "MAX_PENDING", 3)
    store = PgCallRecords(UNREACHABLE, connect_timeout=1)
    for i in range(5):
        store.add(_record(i))
    assert [r.ts for r in store._pending] == [2.0, 3.0, 4.0]
    assert store.dropped == 2
    with pytest.raises(psycopg.OperationalError):
        store.flush()
    assert len(store._pending) == 3
