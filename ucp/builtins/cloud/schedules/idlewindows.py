"""Weekly idle profile from usage, and an off-hours schedule that follows it (pure).

Each sample is placed in its local (weekday, hour) slot; a slot is idle when the chosen
quantile of its samples is at or below the threshold. Slots without data count as busy.
Idle runs shorter than ``min_off_hours`` are ignored. An off rule fires where an idle run
starts and an on rule where it ends; rules sharing an hour are merged into day ranges.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ucp.builtins.cloud.schedules.offhours import Rule

SLOTS = 168


@dataclass(frozen=True)
class IdleProfile:
    idle: np.ndarray  # bool[168], slot = weekday*24 + hour
    has_data: np.ndarray  # bool[168]

    def rows(self) -> list[str]:
        """One string per weekday: '.' idle, '#' busy, '?' no data."""
        ch = np.where(~self.has_data, "?", np.where(self.idle, ".", "#"))
        return ["MTWHFSU"[d] + " " + "".join(ch[d * 24 : (d + 1) * 24]) for d in range(7)]


def slots(t: np.ndarray, zone: zoneinfo.ZoneInfo) -> np.ndarray:
    out = np.empty(t.size, dtype=np.int64)
    for i, x in enumerate(t):
        local = datetime.fromtimestamp(float(x), tz=UTC).astimezone(zone)
        out[i] = local.weekday() * 24 + local.hour
    return out


def profile(
    t: np.ndarray,
    v: np.ndarray,
    zone: zoneinfo.ZoneInfo,
    threshold: float,
    quantile: float,
    min_off_hours: int,
) -> IdleProfile:
    slot = slots(t, zone)
    idle = np.zeros(SLOTS, dtype=bool)
    has = np.zeros(SLOTS, dtype=bool)
    for s in range(SLOTS):
        vals = v[slot == s]
        if vals.size:
            has[s] = True
            idle[s] = float(np.quantile(vals, quantile)) <= threshold
    return IdleProfile(_drop_short(idle, min_off_hours), has)


def _drop_short(idle: np.ndarray, min_len: int) -> np.ndarray:
    """Clear circular idle runs shorter than ``min_len`` slots."""
    out = idle.copy()
    if out.all() or not out.any():
        return out
    start = int(np.flatnonzero(~out)[0])  # rotate so a busy slot comes first
    rot = np.roll(out, -start)
    i = 0
    while i < SLOTS:
        if rot[i]:
            j = i
            while j < SLOTS and rot[j]:
                j += 1
            if j - i < min_len:
                rot[i:j] = False
            i = j
        else:
            i += 1
    return np.roll(rot, start)


def _group(days_by_hour: dict[int, list[int]]) -> tuple[Rule, ...]:
    rules = []
    for hour in sorted(days_by_hour):
        days = sorted(set(days_by_hour[hour]))
        run = [days[0]]
        for d in days[1:]:
            if d == run[-1] + 1:
                run.append(d)
            else:
                rules.append(Rule(tuple(run), hour))
                run = [d]
        rules.append(Rule(tuple(run), hour))
    return tuple(sorted(rules, key=lambda r: (r.days[0], r.hour)))


def transitions(idle: np.ndarray) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """(off rules, on rules) at the starts and ends of idle runs (the week wraps)."""
    off: dict[int, list[int]] = {}
    on: dict[int, list[int]] = {}
    for s in range(SLOTS):
        prev = idle[(s - 1) % SLOTS]
        if idle[s] and not prev:
            off.setdefault(s % 24, []).append(s // 24)
        elif prev and not idle[s]:
            on.setdefault(s % 24, []).append(s // 24)
    return (_group(off) if off else ()), (_group(on) if on else ())
