"""The dynamic mode's per-session working set.

Tools enter when a search surfaces them or when they are called; the set is
capped by a count and by a token budget; when over either cap, the least
recently useful tool leaves (a call makes a tool useful again; a search hit
does too, but a call outranks a hit of the same moment). Pure: the clock is a
counter the caller advances, so tests are deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass
class _Item:
    name: str
    tokens: int
    last_useful: int
    calls: int = 0
    score: float = 0.0


@dataclass
class WorkingSet:
    max_tools: int = 12
    token_budget: int = 6000
    _items: dict[str, _Item] = field(default_factory=dict)
    _tick: int = 0

    def names(self) -> list[str]:
        """Members, most recently useful first."""
        return [
            i.name for i in sorted(self._items.values(), key=lambda i: (-i.last_useful, -i.calls, i.name))
        ]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)

    @property
    def tokens(self) -> int:
        return sum(i.tokens for i in self._items.values())

    def add_hits(self, hits: Iterable[tuple[str, int, float]]) -> bool:
        """Search results ``(name, tokens, score)`` enter (best first). True if the set changed."""
        before = set(self._items)
        self._tick += 1
        hits = list(hits)
        for rank, (name, tokens, score) in enumerate(hits):
            # later ranks are slightly less recent, so on eviction the best hits stay longest
            stamp = self._tick * 1000 - rank
            item = self._items.get(name)
            if item is None:
                self._items[name] = _Item(name, tokens, stamp, score=score)
            else:
                item.last_useful = max(item.last_useful, stamp)
                item.score = max(item.score, score)
                item.tokens = tokens
        self._evict(protect={h[0] for h in hits[:1]})
        return set(self._items) != before

    def touch_call(self, name: str, tokens: int) -> bool:
        """A called tool enters (or is refreshed). True if membership changed."""
        self._tick += 1
        stamp = self._tick * 1000 + 500  # a call outranks hits of the same tick
        item = self._items.get(name)
        added = item is None
        if item is None:
            self._items[name] = _Item(name, tokens, stamp, calls=1)
        else:
            item.last_useful = stamp
            item.calls += 1
        evicted = self._evict(protect={name})
        return added or evicted

    def discard(self, names: Iterable[str]) -> bool:
        changed = False
        for name in names:
            changed |= self._items.pop(name, None) is not None
        return changed

    def _evict(self, protect: set[str]) -> bool:
        evicted = False
        while self._items and (len(self._items) > self.max_tools or self.tokens > self.token_budget):
            candidates = [i for i in self._items.values() if i.name not in protect] or list(
                self._items.values()
            )
            if len(candidates) == 1 and candidates[0].name in protect and len(self._items) == 1:
                break  # one tool larger than the budget still stays: the model asked for it
            victim = min(candidates, key=lambda i: (i.last_useful, i.calls, i.score))
            del self._items[victim.name]
            evicted = True
        return evicted
