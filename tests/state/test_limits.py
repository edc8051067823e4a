"""Shared buckets: what is sent to Redis (the script itself runs against a real Redis:
tests/integration/test_shared_limits.py)."""

from __future__ import annotations

import pytest

from ucp.config.models import StateSettings
from ucp.state import open_state
from ucp.state.limits import BUCKETS_LUA, BucketSpec, SharedBuckets

pytestmark = pytest.mark.anyio


async def test_no_bucket_needs_no_store() -> None:
    buckets = SharedBuckets(open_state(StateSettings()))  # embedded: touching Redis would raise
    assert await buckets.take([]) == (-1, 0.0)


def test_the_script_uses_the_servers_clock_and_takes_all_or_none() -> None:
    assert "redis.call('TIME')" in BUCKETS_LUA
    assert BUCKETS_LUA.index("if worst_i > 0 then return") < BUCKETS_LUA.index(
        "'tokens', tostring(levels[i] - 1)"
    )
    spec = BucketSpec(("tool", "s__t"), 5.0, 0.5)
    assert spec.key == ("tool", "s__t")
