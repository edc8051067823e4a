"""The learning journal: increments coalesce per tool and field, usage vectors are bounded, and a
batch that failed to push goes back in front (real Redis behaviour: tests/integration)."""

from __future__ import annotations

from ucp.state.learning import LearningJournal, UsageOp, parse_change


def test_increments_coalesce_per_tool_and_field() -> None:
    j = LearningJournal()
    for _ in range(1000):
        j.bump("a", alpha=1.0, shown=1, beta=0.0)
    assert j.deltas == {"a": {"alpha": 1000.0, "shown": 1000.0}}
    assert len(j) == 1  # bounded by tools, not by events


def test_usage_operations_are_bounded_oldest_dropped_and_counted() -> None:
    j = LearningJournal(max_usage=3)
    for i in range(5):
        j.add_usage(UsageOp(f"t{i}", "add", 1.0, b"\0\0\0\0"))
    assert [op.tool for op in j.usage] == ["t2", "t3", "t4"]
    assert j.dropped == 2


def test_a_failed_batch_is_restored_in_front_of_newer_updates() -> None:
    j = LearningJournal(max_usage=3)
    j.bump("a", alpha=2.0)
    j.add_usage(UsageOp("old", "penalize", 0.5))
    batch = j.take()
    assert len(j) == 0
    j.bump("a", alpha=1.0)
    j.add_usage(UsageOp("new1", "penalize", 0.5))
    j.add_usage(UsageOp("new2", "penalize", 0.5))
    j.add_usage(UsageOp("new3", "penalize", 0.5))
    j.restore(batch)
    assert j.deltas["a"]["alpha"] == 3.0
    assert [op.tool for op in j.usage] == ["new1", "new2", "new3"]  # over the bound: the oldest went
    assert j.dropped == 1


def test_change_messages_are_parsed_defensively() -> None:
    assert parse_change(b'{"origin": "x", "tools": ["a", 3, "b"]}') == (["a", "b"], False)
    assert parse_change('{"reset": true}') == ([], True)
    assert parse_change(b"not json") == ([], False)
    assert parse_change(b"[1]") == ([], False)
