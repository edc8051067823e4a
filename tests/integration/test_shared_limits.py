"""A rate limit shared across replicas on a real Redis: one budget for two gateways; when Redis is
down each replica falls back to its own buckets (calls keep working, still limited)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import running_gateway, toy_server
from tests.integration.stores import RedisServer
from ucp.errors import RateLimitedError
from ucp.identity import Identity

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

ALICE = Identity("alice", via="key")


def _settings(redis_url: str) -> dict[str, Any]:
    return {
        "rate_limits": {"identity": {"rate": 5, "per": 60}},
        "state": {"backend": "redis", "redis_url": redis_url, "timeout": 0.5},
        "learning": {"enabled": False},
    }


async def _call(gw: Any) -> bool:
    """True when the call passed, False when the identity's limit refused it."""
    session = gw.new_session(identity=ALICE, register=False)
    refused: RateLimitedError | None = None
    try:
        result = await gw.calls.call(session, "toy__echo", {"text": "x"})
    except RateLimitedError as exc:
        refused = exc
    if refused is not None:
        assert refused.details["rule"] == "rate_limits.identity"
        assert refused.details["retry_after"] >= 1
        return False
    assert not result.is_error
    return True


async def test_two_gateways_share_one_budget_and_fall_back_when_redis_is_down(
    tmp_path: Path, redis_url: str, redis_server: RedisServer
) -> None:
    async with (
        running_gateway([toy_server()], tmp_path / "a", **_settings(redis_url)) as a,
        running_gateway([toy_server()], tmp_path / "b", **_settings(redis_url)) as b,
    ):
        outcomes = [await _call(gw) for gw in (a, b) * 5]
        assert outcomes.count(True) == 5, outcomes  # not 5 per replica
        assert outcomes[:5] == [True] * 5
        redis_server.stop()
        try:
            fallback = [await _call(a) for _ in range(7)]
        finally:
            redis_server.start()
        assert fallback.count(True) == 5  # this replica's own bucket: still a limit
        assert a.guard.limiter.degraded == 7
