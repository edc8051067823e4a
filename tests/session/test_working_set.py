from __future__ import annotations

from ucp.session.working_set import WorkingSet


def test_hits_enter_best_first_and_cap_by_count() -> None:
    ws = WorkingSet(max_tools=3, token_budget=10_000)
    assert ws.add_hits([("a", 10, 0.9), ("b", 10, 0.8), ("c", 10, 0.7), ("d", 10, 0.6)])
    assert len(ws) == 3
    assert "d" not in ws  # the worst hit of the batch leaves first
    assert ws.names()[0] == "a"


def test_least_recently_useful_leaves_and_calls_protect() -> None:
    ws = WorkingSet(max_tools=3, token_budget=10_000)
    ws.add_hits([("a", 10, 0.9), ("b", 10, 0.8), ("c", 10, 0.7)])
    ws.touch_call("a", 10)  # a is useful again
    ws.add_hits([("x", 10, 0.9)])
    assert "x" in ws and "a" in ws
    # inside one batch a lower rank counts as less recent, so c (rank 3) is the least recently useful
    assert "c" not in ws
    assert "b" in ws
    assert len(ws) == 3


def test_token_budget() -> None:
    ws = WorkingSet(max_tools=10, token_budget=100)
    ws.add_hits([("a", 60, 1.0), ("b", 60, 0.5)])
    assert ws.tokens <= 100
    assert "a" in ws and "b" not in ws
    # one tool larger than the budget still stays when it is the one asked for
    ws2 = WorkingSet(max_tools=10, token_budget=10)
    assert ws2.touch_call("huge", 500)
    assert "huge" in ws2


def test_discard_and_no_change_reports_false() -> None:
    ws = WorkingSet(max_tools=5, token_budget=1000)
    ws.add_hits([("a", 1, 1.0)])
    assert not ws.add_hits([("a", 1, 1.0)])
    assert ws.discard(["a"])
    assert not ws.discard(["a"])
