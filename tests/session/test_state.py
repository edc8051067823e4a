"""A session answers its own history questions: the last call, the one before it, recent calls."""

from __future__ import annotations

import time

from ucp.session.state import MAX_HISTORY, HistoryItem, Session


def _call(session: Session, tool: str) -> None:
    session.record(HistoryItem(kind="call", at=time.time(), tool=tool, outcome="ok"))


def test_history_questions() -> None:
    session = Session()
    assert session.last_called is None and session.previous_call() is None and session.recent_calls() == ()
    _call(session, "a__one")
    session.record(HistoryItem(kind="search", at=time.time(), text="find two"))
    _call(session, "b__two")
    _call(session, "c__three")
    assert session.last_called == "c__three"
    assert session.previous_call() == "b__two"
    assert session.recent_calls(2) == ("b__two", "c__three")
    assert session.recent_calls(0) == ()
    assert session.calls() == ["a__one", "b__two", "c__three"]
    context = session.context_text()
    assert context.startswith("c three") and "find two" in context


def test_history_is_bounded_and_summarised() -> None:
    session = Session(client_name="host", transport="http")
    for i in range(MAX_HISTORY + 10):
        _call(session, f"s__t{i}")
    assert len(session.history) == MAX_HISTORY
    session.add_context("x" * 10_000)
    assert len(session.history[-1].text) == 4000
    summary = session.summary()
    assert summary["client"] == {"name": "host", "version": ""}
    assert summary["history_length"] == MAX_HISTORY
    assert summary["working_set"] is None
