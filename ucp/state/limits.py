"""Token buckets in Redis: one budget however many replicas take from it.

``SharedBuckets.take`` runs one Lua script over every bucket a call needs (its identity's, its
tenant's, its tool's): it refills each from the time elapsed (Redis's own clock, so replicas'
clocks do not matter), and either takes a token from all of them or from none, returning which
bucket was empty and how long until it has a token. Atomic on the server, so concurrent replicas
cannot both take the last token. Idle buckets expire once they would be full again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ucp.state.base import State

BUCKETS_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local levels = {}
local worst, worst_i = 0, 0
for i = 1, #KEYS do
  local cap = tonumber(ARGV[2 * i - 1])
  local refill = tonumber(ARGV[2 * i])
  local b = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local tokens = tonumber(b[1]) or cap
  local at = tonumber(b[2]) or now
  local level = math.min(cap, tokens + math.max(0, now - at) * refill)
  levels[i] = level
  if level < 1 then
    local wait = (1 - level) / refill
    if wait > worst then worst = wait; worst_i = i end
  end
end
if worst_i > 0 then return {worst_i, tostring(worst)} end
for i = 1, #KEYS do
  local cap = tonumber(ARGV[2 * i - 1])
  local refill = tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 'tokens', tostring(levels[i] - 1), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(cap / refill * 1000) + 1000)
end
return {0, '0'}
"""


@dataclass(frozen=True)
class BucketSpec:
    key: tuple[str, str]  # (kind, name): ("tool", "srv__t"), ("identity", "tenant/subject"), ...
    capacity: float
    refill: float  # tokens per second


class SharedBuckets:
    def __init__(self, state: State) -> None:
        self.state = state
        self._sha: str | None = None

    async def take(self, buckets: Sequence[BucketSpec]) -> tuple[int, float]:
        """Take one token from every bucket, or none: ``(-1, 0.0)`` when taken, else the index of the
        emptiest bucket and the seconds until it has a token."""
        if not buckets:
            return -1, 0.0
        redis = self.state.redis
        if self._sha is None:
            self._sha = await redis.script_load(BUCKETS_LUA)
        keys = [self.state.key("rl", kind, name) for kind, name in (b.key for b in buckets)]
        args: list[str] = []
        for b in buckets:
            args += [repr(b.capacity), repr(b.refill)]
        index, wait = await redis.evalsha(self._sha, len(keys), *keys, *args)
        return (int(index) - 1, float(wait)) if int(index) > 0 else (-1, 0.0)
