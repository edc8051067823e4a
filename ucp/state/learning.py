"""Learning posteriors and usage evidence in Redis: every replica adds to the same counts.

Each tool has two hashes: ``ns:learn:t:<tool>`` (evidence beyond the prior: ``alpha``, ``beta`` as
floats; ``shown``, ``called``, ``succeeded``, ``failed``, ``explored`` as integers) and
``ns:learn:u:<tool>`` (``sum``: the float32 running sum of the query embeddings after which the tool
succeeded, ``count``). Updates are increments, never overwrites: counters and posteriors with
``HINCRBY``/``HINCRBYFLOAT`` inside one ``MULTI``, usage sums with a Lua script (decay, add or
penalise the vector atomically on the server), so concurrent writers on any number of replicas lose
no increment.

A replica batches its increments in memory (``LearningJournal``: coalesced per tool and field, so
its size is bounded by the number of tools, not of events; usage vectors in a bounded queue) and
pushes them every ``flush_interval``; after each push it publishes the changed tools on
``ns:learn:changed``, and every replica (itself included) re-reads those tools. That is what makes
a success recorded on replica A visible to replica B's rankings within about one flush interval.
While Redis is unreachable the journal keeps accumulating (posterior increments are never dropped;
usage vectors beyond ``buffer_max`` are, oldest first, and counted) and is pushed on recovery.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ucp.log import get_logger
from ucp.state.base import State

log = get_logger("ucp.state.learning")

FLOAT_FIELDS = ("alpha", "beta")
INT_FIELDS = ("shown", "called", "succeeded", "failed", "explored")
FIELDS = FLOAT_FIELDS + INT_FIELDS

# KEYS[1]: the usage hash. ARGV: op ("add" | "penalize"), weight or factor, decay, float32 LE vector
USAGE_LUA = """
local key = KEYS[1]
local old = redis.call('HGET', key, 'sum')
local count = tonumber(redis.call('HGET', key, 'count') or '0')
local out = {}
if ARGV[1] == 'penalize' then
  if not old then return 0 end
  local f = tonumber(ARGV[2])
  for i = 0, string.len(old) / 4 - 1 do
    out[i + 1] = struct.pack('<f', struct.unpack('<f', old, i * 4 + 1) * f)
  end
  redis.call('HSET', key, 'sum', table.concat(out), 'count', count * f)
  return 1
end
local w = tonumber(ARGV[2])
local decay = tonumber(ARGV[3])
local v = ARGV[4]
if old and string.len(old) ~= string.len(v) then return -1 end
for i = 0, string.len(v) / 4 - 1 do
  local x = struct.unpack('<f', v, i * 4 + 1) * w
  if old then x = x + struct.unpack('<f', old, i * 4 + 1) * decay end
  out[i + 1] = struct.pack('<f', x)
end
redis.call('HSET', key, 'sum', table.concat(out), 'count', count * decay + w)
return 1
"""


@dataclass(frozen=True)
class UsageOp:
    tool: str
    op: str  # "add" | "penalize"
    weight: float  # add: the vector's weight; penalize: the factor
    vector: bytes = b""  # add: the unit query vector, float32


@dataclass
class SharedTool:
    """One tool's shared counts (evidence beyond the prior) and usage sum."""

    counts: dict[str, float] = field(default_factory=dict)
    usage_sum: bytes | None = None
    usage_count: float = 0.0

    def to_dict(self, tool: str, prior: float = 1.0) -> dict[str, Any]:
        """The row ``ucp stats`` prints (the same keys as the embedded store's)."""
        alpha = prior + self.counts.get("alpha", 0.0)
        beta = prior + self.counts.get("beta", 0.0)
        row: dict[str, Any] = {"tool": tool}
        row.update({name: round(self.counts.get(name, 0.0)) for name in INT_FIELDS})
        row.update(
            alpha=round(alpha, 3),
            beta=round(beta, 3),
            posterior_mean=round(alpha / (alpha + beta), 4),
            usage_queries=round(self.usage_count, 2),
        )
        return row


@dataclass
class LearningJournal:
    """Increments not yet pushed: coalesced per (tool, field); usage operations in order, bounded."""

    max_usage: int = 50_000
    deltas: dict[str, dict[str, float]] = field(default_factory=dict)
    usage: deque[UsageOp] = field(default_factory=deque)
    dropped: int = 0

    def bump(self, tool: str, **amounts: float) -> None:
        row = self.deltas.setdefault(tool, {})
        for name, amount in amounts.items():
            if amount:
                row[name] = row.get(name, 0.0) + amount

    def add_usage(self, op: UsageOp) -> None:
        if len(self.usage) >= self.max_usage:
            self.usage.popleft()
            self.dropped += 1
        self.usage.append(op)

    def take(self) -> LearningJournal:
        """The pending increments (this journal is emptied)."""
        out = LearningJournal(self.max_usage, self.deltas, self.usage, 0)
        self.deltas, self.usage = {}, deque()
        return out

    def restore(self, failed: LearningJournal) -> None:
        """Put back a batch that could not be pushed, in front of what came since."""
        for tool, row in failed.deltas.items():
            self.bump(tool, **row)
        merged = deque(failed.usage)
        merged.extend(self.usage)
        while len(merged) > self.max_usage:
            merged.popleft()
            self.dropped += 1
        self.usage = merged

    def __len__(self) -> int:
        return len(self.deltas) + len(self.usage)


class SharedLearning:
    """The Redis side of the learner: push increments, read tools back, subscribe to changes."""

    def __init__(self, state: State, *, decay: float = 0.995, scope: str = "") -> None:
        """``scope``: a named tenant's own learning state (keys ``ns:learn@<tenant>:...``)."""
        self.state = state
        self.decay = decay
        self.origin = uuid.uuid4().hex[:12]
        self._root = f"learn@{scope}" if scope else "learn"
        self.channel = state.key(self._root, "changed")
        self._tools_set = state.key(self._root, "tools")
        self._usage_sha: str | None = None

    def _t(self, tool: str) -> str:
        return self.state.key(self._root, "t", tool)

    def _u(self, tool: str) -> str:
        return self.state.key(self._root, "u", tool)

    async def push(self, batch: LearningJournal) -> list[str]:
        """Apply ``batch`` atomically (one MULTI) and announce the changed tools; returns them."""
        redis = self.state.redis
        if self._usage_sha is None:
            self._usage_sha = await redis.script_load(USAGE_LUA)
        changed = sorted(set(batch.deltas) | {op.tool for op in batch.usage})
        if not changed:
            return []
        pipe = redis.pipeline(transaction=True)
        for tool, row in batch.deltas.items():
            key = self._t(tool)
            for name, amount in row.items():
                if name in FLOAT_FIELDS:
                    pipe.hincrbyfloat(key, name, amount)
                else:
                    pipe.hincrby(key, name, round(amount))
        for op in batch.usage:
            pipe.evalsha(
                self._usage_sha, 1, self._u(op.tool), op.op, repr(op.weight), repr(self.decay), op.vector
            )
        pipe.sadd(self._tools_set, *changed)
        pipe.publish(self.channel, json.dumps({"origin": self.origin, "tools": changed}))
        await pipe.execute()
        return changed

    async def read(self, tools: Iterable[str]) -> dict[str, SharedTool]:
        """The shared counts of ``tools`` (absent tools have none)."""
        names = list(tools)
        if not names:
            return {}
        pipe = self.state.redis.pipeline(transaction=False)
        for tool in names:
            pipe.hgetall(self._t(tool))
            pipe.hgetall(self._u(tool))
        answers = await pipe.execute()
        out: dict[str, SharedTool] = {}
        for i, tool in enumerate(names):
            counts_raw: dict[bytes, bytes] = answers[2 * i]
            usage_raw: dict[bytes, bytes] = answers[2 * i + 1]
            if not counts_raw and not usage_raw:
                continue
            counts = {k.decode(): float(v) for k, v in counts_raw.items()}
            out[tool] = SharedTool(counts, usage_raw.get(b"sum"), float(usage_raw.get(b"count", 0.0)))
        return out

    async def read_all(self) -> dict[str, SharedTool]:
        members = await self.state.redis.smembers(self._tools_set)
        return await self.read(sorted(_text(m) for m in members))

    async def reset(self) -> int:
        """Delete every learned count of this namespace; returns the tools cleared."""
        redis = self.state.redis
        members = [_text(m) for m in await redis.smembers(self._tools_set)]
        keys = [k for tool in members for k in (self._t(tool), self._u(tool))]
        pipe = redis.pipeline(transaction=True)
        if keys:
            pipe.delete(*keys)
        pipe.delete(self._tools_set)
        pipe.publish(self.channel, json.dumps({"origin": self.origin, "reset": True}))
        await pipe.execute()
        return len(members)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def parse_change(data: Any) -> tuple[list[str], bool]:
    """(tools changed, whether everything was reset) from a message of the change channel."""
    try:
        message = json.loads(data)
    except (TypeError, ValueError):
        return [], False
    if not isinstance(message, dict):
        return [], False
    tools = message.get("tools") or []
    return [t for t in tools if isinstance(t, str)], bool(message.get("reset"))
