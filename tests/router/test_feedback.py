from __future__ import annotations

from pathlib import Path

from ucp.router.feedback import FeedbackStore, ToolRow


def test_persist_reload_daily_and_reset(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "l.sqlite")
    store.add_ranking(
        "r1",
        ts=1_700_000_000,
        session="s",
        source="search",
        query="q",
        shown=[("a", 1, False), ("b", 2, True)],
        mode="hybrid",
    )
    store.add_ranking(
        "r2", ts=1_700_000_100, session="s", source="search", query="q2", shown=[("a", 1, False)], mode="bm25"
    )
    store.add_outcome("r1", ts=1_700_000_010, tool="b", rank=2, ok=True, error=None, first_hit=True)
    store.save_tools([ToolRow("b", 2.0, 1.0, 1, 1, 1, 0, 1, b"\x00" * 8, 1.0, 1.0)])
    assert store.flush() > 0
    store.close()
    again = FeedbackStore(tmp_path / "l.sqlite")
    rows = again.load_tools()
    assert [(r.tool, r.alpha, r.called) for r in rows] == [("b", 2.0, 1)]
    daily = again.daily()
    assert daily == [{"day": "2023-11-14", "rankings": 2, "hits": 1, "hit_rate": 0.5}]
    assert again.count_events() == 2
    again.reset()
    assert again.count_events() == 0
    assert again.load_tools() == []
    again.close()


def test_compaction_bounds_events(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "l.sqlite", retention_days=1, max_events=3)
    now = 1_800_000_000.0
    for i in range(6):
        store.add_ranking(
            f"r{i}", ts=now - i * 100, session="s", source="search", query="q", shown=[], mode="bm25"
        )
    store.add_ranking(
        "old", ts=now - 3 * 86400, session="s", source="search", query="q", shown=[], mode="bm25"
    )
    store.add_outcome("old", ts=now, tool="a", rank=1, ok=True, error=None, first_hit=False)
    deleted = store.compact(now=now)
    assert deleted == 4
    assert store.count_events() == 3
    store.close()
