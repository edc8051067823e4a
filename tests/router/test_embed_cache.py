"""SQLite embedding cache: round trips, persistence, corruption recovery, bounds, two processes' files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from structlog.testing import capture_logs

from ucp.router.embed_cache import DAY, EmbedCache


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _vec(seed: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


def test_round_trip_per_model(tmp_path: Path) -> None:
    cache = EmbedCache(tmp_path)
    cache.put_many("m1", {"a": _vec(1), "b": _vec(2)})
    cache.put_many("m2", {"a": _vec(3, dim=4)})
    got = cache.get_many("m1", ["a", "b", "missing"])
    assert set(got) == {"a", "b"}
    np.testing.assert_array_equal(got["a"], _vec(1))
    assert got["b"].dtype == np.float32
    other = cache.get_many("m2", ["a", "b"])
    assert set(other) == {"a"} and other["a"].shape == (4,)
    assert cache.get_many("m1", []) == {}


def test_put_replaces_existing_vectors(tmp_path: Path) -> None:
    cache = EmbedCache(tmp_path)
    cache.put_many("m", {"a": _vec(1)})
    cache.put_many("m", {"a": _vec(2)})
    np.testing.assert_array_equal(cache.get_many("m", ["a"])["a"], _vec(2))
    assert cache.count() == 1


def test_survives_a_restart(tmp_path: Path) -> None:
    EmbedCache(tmp_path).put_many("m", {"a": _vec(1)})
    np.testing.assert_array_equal(EmbedCache(tmp_path).get_many("m", ["a"])["a"], _vec(1))


def test_model_ids_with_quotes_are_safe(tmp_path: Path) -> None:
    cache = EmbedCache(tmp_path)
    cache.put_many("it's a model", {"a": _vec(1)})
    assert set(cache.get_many("it's a model", ["a"])) == {"a"}
    assert cache.get_many("it", ["a"]) == {}


def test_corrupted_table_is_rebuilt_with_a_warning(tmp_path: Path) -> None:
    EmbedCache(tmp_path).put_many("m", {"a": _vec(1)})
    files = [p for p in tmp_path.iterdir() if p.name.startswith("tool_embeddings.sqlite3")]
    assert files
    for p in files:
        p.write_bytes(b"garbage" * 1000)
    cache = EmbedCache(tmp_path)
    with capture_logs() as logs:
        assert cache.get_many("m", ["a"]) == {}
    assert any(e["event"] == "embed_cache_rebuilt" and e["log_level"] == "warning" for e in logs)
    cache.put_many("m", {"b": _vec(2)})
    assert set(EmbedCache(tmp_path).get_many("m", ["a", "b"])) == {"b"}


def test_prune_drops_rows_not_seen_for_max_age(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = EmbedCache(tmp_path, clock=clock, max_age_s=30 * DAY, touch_interval_s=DAY)
    cache.put_many("m", {"old": _vec(1), "used": _vec(2)})
    clock.now += 20 * DAY
    assert set(cache.get_many("m", ["used"])) == {"used"}  # a read refreshes last_seen
    clock.now += 20 * DAY  # "old" unseen for 40 days, "used" for 20
    assert cache.prune() == 1
    assert set(cache.get_many("m", ["old", "used"])) == {"used"}


def test_prune_caps_rows_dropping_the_oldest(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = EmbedCache(tmp_path, clock=clock)
    for i in range(5):
        clock.now += 1
        cache.put_many("m", {f"h{i}": _vec(i)})
    assert cache.prune(max_rows=2) == 3
    assert set(cache.get_many("m", [f"h{i}" for i in range(5)])) == {"h3", "h4"}


def test_writes_compact_periodically(tmp_path: Path) -> None:
    cache = EmbedCache(tmp_path, compact_every=3, max_rows=2)
    for i in range(3):
        cache.put_many("m", {f"h{i}": _vec(i)})
    assert cache.count() == 2  # the third write ran prune(), which enforces max_rows


@pytest.mark.parametrize("bad", [b"not a database" * 100, b"\x00" * 4096])
def test_unreadable_directory_contents_never_raise(tmp_path: Path, bad: bytes) -> None:
    (tmp_path / "tool_embeddings.sqlite3").write_bytes(bad)
    with capture_logs():
        cache = EmbedCache(tmp_path)
        assert cache.get_many("m", ["a"]) == {}
        cache.put_many("m", {"a": _vec(1)})
    assert set(cache.get_many("m", ["a"])) == {"a"}


def test_a_file_with_another_schema_is_rebuilt(tmp_path: Path) -> None:
    import sqlite3

    db = sqlite3.connect(tmp_path / "tool_embeddings.sqlite3")
    db.execute("CREATE TABLE embeddings (x INTEGER)")
    db.commit()
    db.close()
    with capture_logs() as logs:
        cache = EmbedCache(tmp_path)
        cache.put_many("m", {"a": _vec(1)})
    assert any(e["event"] == "embed_cache_rebuilt" for e in logs)
    np.testing.assert_array_equal(cache.get_many("m", ["a"])["a"], _vec(1))


def test_two_caches_on_one_directory_see_each_others_writes(tmp_path: Path) -> None:
    """Two processes (workers) share the file: WAL mode, each its own connection."""
    first, second = EmbedCache(tmp_path), EmbedCache(tmp_path)
    first.put_many("m", {"a": _vec(1)})
    second.put_many("m", {"b": _vec(2)})
    assert set(first.get_many("m", ["a", "b"])) == {"a", "b"}
    assert second.count() == 2


def test_large_lookups_are_chunked(tmp_path: Path) -> None:
    cache = EmbedCache(tmp_path)
    vectors = {f"h{i}": _vec(i, dim=4) for i in range(1_234)}
    cache.put_many("m", vectors)
    got = cache.get_many("m", [*vectors, "missing"])
    assert len(got) == 1_234
    np.testing.assert_array_equal(got["h1000"], vectors["h1000"])
