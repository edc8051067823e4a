"""Priors the router adds to retrieval scores: what gets used, and what usually follows.

Pure and in-memory (the learning layer persists its own state). Priors are small,
non-negative additive boosts on the fused [0, 1] scale, capped at ``MAX_BOOST`` per
tool: they reorder close candidates and may fill slots nothing else matched, but cannot
outrank a clearly better description match.

- usage: log-scaled count of successful calls per tool, decayed by half every
  ``half_life`` calls seen across the deployment;
- sequence: how often tool B was called right after tool A in a session, as P(B | A).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

USAGE_WEIGHT = 0.03
SEQUENCE_WEIGHT = 0.08
RECENT_WEIGHT = 0.03
MAX_BOOST = 0.15


@dataclass
class Priors:
    half_life: float = 2000.0
    usage: dict[str, float] = field(default_factory=dict)
    follows: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    calls_seen: int = 0

    def record_call(self, tool: str, previous: str | None, ok: bool) -> None:
        self.calls_seen += 1
        decay = 0.5 ** (1.0 / self.half_life)
        if self.calls_seen % 100 == 0:  # decay in batches: cheap, same result within rounding
            factor = decay**100
            self.usage = {k: v * factor for k, v in self.usage.items() if v * factor > 1e-3}
        if not ok:
            return
        self.usage[tool] = self.usage.get(tool, 0.0) + 1.0
        if previous and previous != tool:
            row = self.follows[previous]
            row[tool] = row.get(tool, 0.0) + 1.0

    def boosts(self, last_called: str | None = None, recent: tuple[str, ...] = ()) -> dict[str, float]:
        out: dict[str, float] = {}
        for tool, count in self.usage.items():
            out[tool] = USAGE_WEIGHT * math.log1p(count) / math.log1p(100.0)
        if last_called and last_called in self.follows:
            row = self.follows[last_called]
            total = sum(row.values())
            for tool, count in row.items():
                out[tool] = out.get(tool, 0.0) + SEQUENCE_WEIGHT * count / total
        for tool in recent:
            out[tool] = out.get(tool, 0.0) + RECENT_WEIGHT
        return {k: min(MAX_BOOST, v) for k, v in out.items() if v > 0}
