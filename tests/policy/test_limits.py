"""Token buckets per identity, tenant and tool: trip, say when to retry, recover."""

from __future__ import annotations

import pytest

from ucp.config.models import RateLimitSettings, RateSettings
from ucp.errors import RateLimitedError
from ucp.identity import Identity
from ucp.policy.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_identity_bucket_trips_and_recovers() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimitSettings(identity=RateSettings(rate=2, per=10)), clock)
    alice, bob = Identity("alice", via="key"), Identity("bob", via="key")
    limiter.acquire(alice, "t__a")
    limiter.acquire(alice, "t__b")
    with pytest.raises(RateLimitedError) as info:
        limiter.acquire(alice, "t__a")
    assert info.value.details == {"rule": "rate_limits.identity", "retry_after": 5, "tool": "t__a"}
    assert info.value.http_status == 429
    limiter.acquire(bob, "t__a")  # bob has his own bucket
    clock.now += 5
    limiter.acquire(alice, "t__a")


def test_tool_overrides_and_tenant_buckets_take_all_or_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(
        RateLimitSettings(
            tenant=RateSettings(rate=3, per=60),
            tools={"git__push": RateSettings(rate=1, per=60)},
        ),
        clock,
    )
    a, b = Identity("a", tenant="acme", via="key"), Identity("b", tenant="acme", via="key")
    limiter.acquire(a, "git__push")
    with pytest.raises(RateLimitedError) as info:
        limiter.acquire(b, "git__push")
    assert info.value.details["rule"] == "rate_limits.tools.'git__push'"
    limiter.acquire(b, "git__status")  # the refused push took no tenant token
    limiter.acquire(a, "git__status")
    with pytest.raises(RateLimitedError) as info:
        limiter.acquire(a, "git__status")
    assert info.value.details["rule"] == "rate_limits.tenant"
    assert not RateLimiter(RateLimitSettings()).active


class DownBuckets:
    async def take(self, buckets: object) -> tuple[int, float]:
        raise ConnectionError("store down")


class FullBuckets:
    def __init__(self) -> None:
        self.seen: list[object] = []

    async def take(self, buckets: list[object]) -> tuple[int, float]:
        self.seen.append(buckets)
        return 0, 2.5


@pytest.mark.anyio
async def test_shared_buckets_refuse_with_the_rule_and_fall_back_locally_when_down() -> None:
    settings = RateLimitSettings(identity=RateSettings(rate=2, per=10))
    alice = Identity("alice", via="key")
    full = FullBuckets()
    limiter = RateLimiter(settings, Clock(), shared=full)  # type: ignore[arg-type]
    with pytest.raises(RateLimitedError) as info:
        await limiter.acquire_shared(alice, "t__a")
    assert info.value.details == {"rule": "rate_limits.identity", "retry_after": 3, "tool": "t__a"}
    spec = full.seen[0][0]  # type: ignore[index]
    assert (spec.key, spec.capacity, spec.refill) == (("identity", "default/alice"), 2, 0.2)
    down = RateLimiter(settings, Clock(), shared=DownBuckets())  # type: ignore[arg-type]
    await down.acquire_shared(alice, "t__a")
    await down.acquire_shared(alice, "t__a")
    with pytest.raises(RateLimitedError):
        await down.acquire_shared(alice, "t__a")
    assert down.degraded == 3
