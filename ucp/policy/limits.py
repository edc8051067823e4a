"""Rate limits as token buckets, in memory: per identity, per tenant and per tool.

A bucket holds up to ``burst`` tokens and refills at ``rate / per`` tokens a
second; a call takes one token from every bucket that applies (its identity's,
its tenant's, its tool's) or from none: when any bucket is empty the call is
refused with ``RateLimitedError`` saying how long until it would pass
(``retry_after``, seconds, rounded up). Buckets live in this process (idle full buckets are
dropped), or, with shared state, in Redis (``ucp.state.limits``: one budget across replicas,
``acquire_shared``). When Redis cannot be reached the process's own buckets take over (each
replica then enforces the limit alone: calls keep working, the budget is at most N times looser)
and ``degraded`` counts the calls so limited.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ucp.config.models import RateLimitSettings, RateSettings
from ucp.errors import RateLimitedError
from ucp.identity import Identity
from ucp.log import get_logger
from ucp.state.limits import BucketSpec, SharedBuckets

log = get_logger("ucp.policy.limits")

MAX_BUCKETS = 100_000


@dataclass
class Bucket:
    capacity: float
    refill: float  # tokens per second
    tokens: float
    at: float

    def level(self, now: float) -> float:
        return min(self.capacity, self.tokens + (now - self.at) * self.refill)

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 when one is)."""
        missing = 1.0 - self.level(now)
        return 0.0 if missing <= 0 else missing / self.refill

    def take(self, now: float) -> None:
        self.tokens = self.level(now) - 1.0
        self.at = now


def _bucket(rate: RateSettings, now: float) -> Bucket:
    burst = rate.burst if rate.burst is not None else rate.rate
    return Bucket(capacity=burst, refill=rate.rate / rate.per, tokens=burst, at=now)


class RateLimiter:
    def __init__(
        self,
        settings: RateLimitSettings,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedBuckets | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.shared = shared
        self.degraded = 0  # calls limited by this process's buckets because the shared store failed
        self.retry_after = 1.0  # after a store failure, seconds of local limiting before trying it again
        self._store_down_until = -math.inf
        self._buckets: dict[tuple[str, str], Bucket] = {}

    @property
    def active(self) -> bool:
        s = self.settings
        return bool(s.identity or s.tenant or s.tool or s.tools)

    def _tool_rate(self, tool: str) -> tuple[str, RateSettings] | None:
        for glob, rate in self.settings.tools.items():
            if fnmatchcase(tool, glob):
                return f"rate_limits.tools.{glob!r}", rate
        return ("rate_limits.tool", self.settings.tool) if self.settings.tool else None

    def _applicable(self, identity: Identity, tool: str) -> list[tuple[str, tuple[str, str], RateSettings]]:
        out: list[tuple[str, tuple[str, str], RateSettings]] = []
        if self.settings.identity:
            out.append(
                (
                    "rate_limits.identity",
                    ("identity", f"{identity.tenant}/{identity.subject}"),
                    self.settings.identity,
                )
            )
        if self.settings.tenant:
            out.append(("rate_limits.tenant", ("tenant", identity.tenant), self.settings.tenant))
        tool_rate = self._tool_rate(tool)
        if tool_rate is not None:
            out.append((tool_rate[0], ("tool", tool), tool_rate[1]))
        return out

    def acquire(self, identity: Identity, tool: str) -> None:
        """Take a token from every applicable bucket, or raise ``RateLimitedError`` (taking none)."""
        if not self.active:
            return
        now = self.clock()
        buckets: list[tuple[str, Bucket]] = []
        for rule, key, rate in self._applicable(identity, tool):
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._prune(now)
                bucket = self._buckets[key] = _bucket(rate, now)
            buckets.append((rule, bucket))
        waits = [(b.wait(now), rule) for rule, b in buckets]
        worst = max(waits, default=(0.0, ""))
        if worst[0] > 0:
            retry = max(1, math.ceil(worst[0]))
            raise RateLimitedError(
                f"rate limit {worst[1]} reached for {tool}; retry in {retry} s",
                rule=worst[1],
                retry_after=retry,
                tool=tool,
            )
        for _rule, bucket in buckets:
            bucket.take(now)

    async def acquire_shared(self, identity: Identity, tool: str) -> None:
        """``acquire`` against the shared buckets (this process's when the store fails)."""
        if not self.active:
            return
        if self.shared is None:
            self.acquire(identity, tool)
            return
        applicable = self._applicable(identity, tool)
        specs = [
            BucketSpec(key, rate.burst if rate.burst is not None else rate.rate, rate.rate / rate.per)
            for _rule, key, rate in applicable
        ]
        if self.clock() < self._store_down_until:  # do not make every call wait on a store just failed
            self.degraded += 1
            self.acquire(identity, tool)
            return
        try:
            index, wait = await self.shared.take(specs)
        except Exception as exc:
            self._store_down_until = self.clock() + self.retry_after
            self.degraded += 1
            if self.degraded == 1 or self.degraded % 1000 == 0:
                log.warning(
                    "rate_limit_store_unreachable",
                    error=type(exc).__name__,
                    degraded_calls=self.degraded,
                    action="limiting with this process's buckets",
                )
            self.acquire(identity, tool)
            return
        if index >= 0:
            rule = applicable[index][0]
            retry = max(1, math.ceil(wait))
            raise RateLimitedError(
                f"rate limit {rule} reached for {tool}; retry in {retry} s",
                rule=rule,
                retry_after=retry,
                tool=tool,
            )

    def _prune(self, now: float) -> None:
        full = [k for k, b in self._buckets.items() if b.level(now) >= b.capacity]
        for key in full:
            del self._buckets[key]
