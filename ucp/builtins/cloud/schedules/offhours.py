"""Cloud Custodian off-hours semantics (pure): tag grammar, time zones, DST, skip-days.

A tag value such as ``off=[(M-F,19),(U,18)];on=(M-F,7);tz=pt`` is parsed as Custodian's
``ScheduleParser`` does (lower-cased; days M T W H F S U, ranges may wrap; hours 0-23;
a missing ``on``/``off`` falls back to the policy default; tz is an alias or an IANA
name). The policies run hourly: at each UTC hour the local hour is compared with the
rules, so a local hour skipped by a DST change never fires and a repeated one fires
twice (harmlessly). On a skip-day (holiday) neither policy acts.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

DAY_MAP = {"m": 0, "t": 1, "w": 2, "h": 3, "f": 4, "s": 5, "u": 6}
DAY_LETTERS = "MTWHFSU"
TZ_ALIASES = {
    "pdt": "America/Los_Angeles",
    "pt": "America/Los_Angeles",
    "pst": "America/Los_Angeles",
    "ast": "America/Phoenix",
    "at": "America/Phoenix",
    "est": "America/New_York",
    "edt": "America/New_York",
    "et": "America/New_York",
    "cst": "America/Chicago",
    "cdt": "America/Chicago",
    "ct": "America/Chicago",
    "mst": "America/Denver",
    "mdt": "America/Denver",
    "mt": "America/Denver",
    "gmt": "Etc/GMT",
    "gt": "Etc/GMT",
    "bst": "Europe/London",
    "ist": "Europe/Dublin",
    "cet": "Europe/Berlin",
    "it": "Asia/Kolkata",
    "jst": "Asia/Tokyo",
    "kst": "Asia/Seoul",
    "sgt": "Asia/Singapore",
    "aet": "Australia/Sydney",
    "brt": "America/Sao_Paulo",
    "utc": "Etc/UTC",
}
LOOKBACK = timedelta(days=8)


class ScheduleError(ValueError):
    """A tag (or policy option) Custodian would reject."""


@dataclass(frozen=True)
class Rule:
    days: tuple[int, ...]
    hour: int

    def text(self) -> str:
        return f"({days_text(self.days)},{self.hour})"


@dataclass(frozen=True)
class Schedule:
    off: tuple[Rule, ...]
    on: tuple[Rule, ...]
    tz: str
    opted_out: bool = False

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return resolve_tz(self.tz)

    def tag(self) -> str:
        def part(rules: tuple[Rule, ...]) -> str:
            inner = ",".join(r.text() for r in rules)
            return inner if len(rules) == 1 else f"[{inner}]"

        pieces = [f"off={part(self.off)}"] if self.off else []
        pieces += [f"on={part(self.on)}"] if self.on else []
        return ";".join([*pieces, f"tz={self.tz}"])


@lru_cache(maxsize=1)
def _zones_lower() -> dict[str, str]:
    return {z.lower(): z for z in zoneinfo.available_timezones()}


def resolve_tz(name: str) -> zoneinfo.ZoneInfo:
    key = name.strip().lower()
    real = TZ_ALIASES.get(key) or _zones_lower().get(key)
    if real is None:
        raise ScheduleError(
            f"unknown time zone {name!r}: use an alias (pt, et, ct, mt, utc, cet, ...) or an IANA name"
        )
    return zoneinfo.ZoneInfo(real)


def days_text(days: tuple[int, ...]) -> str:
    """(0,1,2,3,4) -> 'M-F'; a single day -> its letter."""
    if len(days) == 1:
        return DAY_LETTERS[days[0]]
    return f"{DAY_LETTERS[days[0]]}-{DAY_LETTERS[days[-1]]}"


def expand_days(token: str) -> tuple[int, ...]:
    if token in DAY_MAP:
        return (DAY_MAP[token],)
    ends = [DAY_MAP.get(d) for d in token.split("-")]
    if len(ends) != 2 or None in ends:
        raise ScheduleError(f"bad day spec {token!r}: use M T W H F S U or a range such as M-F")
    a, b = int(ends[0] or 0), int(ends[1] or 0)
    if a > b:  # wraps: F-M = Fri, Sat, Sun, Mon
        return (*range(a, 7), *range(b + 1))
    return tuple(range(a, b + 1))


def parse_rules(lexeme: str) -> tuple[Rule, ...]:
    rules = []
    for expr in lexeme.replace("[", "").replace("]", "").split(",("):
        tokens = expr.replace("(", "").replace(")", "").split(",")
        if len(tokens) != 2:
            raise ScheduleError(f"bad time spec {expr!r}: expected (days,hour)")
        if not tokens[1].isdigit() or int(tokens[1]) > 23:
            raise ScheduleError(f"bad hour {tokens[1]!r}: expected 0-23 (no spaces)")
        rules.append(Rule(expand_days(tokens[0]), int(tokens[1])))
    return tuple(rules)


def default_rules(kind: str, hour: int, weekends: bool, weekends_only: bool) -> tuple[Rule, ...]:
    if weekends_only:
        return (Rule((4,) if kind == "off" else (0,), hour),)
    return (Rule(tuple(range(5)) if weekends else tuple(range(7)), hour),)


def parse_tag(
    value: str,
    default_tz: str = "et",
    off_hour: int = 19,
    on_hour: int = 7,
    weekends: bool = True,
    weekends_only: bool = False,
) -> Schedule:
    """Parse a ``maid_offhours`` value the way Custodian's off/on-hour filters read it."""
    v = value.lower().strip().strip("'").strip('"')
    v = ";".join(p for p in v.split(";") if p)
    if v == "off":
        return Schedule((), (), default_tz, opted_out=True)
    raw: dict[str, str] = {}
    for piece in (q for p in v.split(" ") for q in p.split(";")):
        kv = piece.split("=")
        if len(kv) == 2:
            raw[kv[0]] = kv[1]
    bad = [k for k in raw if k not in ("on", "off", "tz")]
    if bad:
        raise ScheduleError(f"unknown key {bad[0]!r}: allowed keys are off, on, tz")
    parsed: dict[str, tuple[Rule, ...]] = {}
    tz = raw.get("tz") or default_tz
    if "on" in raw or "off" in raw:
        for piece in v.split(";"):
            kv = piece.split("=")
            if len(kv) != 2:
                raise ScheduleError(f"bad component {piece!r}: expected key=value separated by ';'")
            if kv[0] != "tz":
                parsed[kv[0]] = parse_rules(kv[1])
    resolve_tz(tz)
    off = parsed.get("off") or default_rules("off", off_hour, weekends, weekends_only)
    on = parsed.get("on") or default_rules("on", on_hour, weekends, weekends_only)
    clash = sorted({(d, r.hour) for r in off for d in r.days} & {(d, r.hour) for r in on for d in r.days})
    if clash:
        d, h = clash[0]
        raise ScheduleError(
            f"off and on both fire on {DAY_LETTERS[d]} at {h}:00; Custodian's order would decide"
        )
    return Schedule(off, on, tz)


@dataclass(frozen=True)
class Simulation:
    off_windows: list[tuple[datetime, datetime]]  # UTC, clipped to the horizon, disjoint and sorted
    events: list[tuple[datetime, str]]  # (UTC time, "off"/"on") inside the horizon
    notes: list[str]


def _fires(rules: tuple[Rule, ...], local: datetime) -> bool:
    return any(local.weekday() in r.days and local.hour == r.hour for r in rules)


def simulate(
    s: Schedule, start: datetime, end: datetime, skip_days: frozenset[date] = frozenset()
) -> Simulation:
    """Hourly evaluation from ``start - 8 days`` (to know the state at ``start``) to ``end``."""
    zone = s.zone
    tick = (start - LOOKBACK).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    state_off = False
    off_since: datetime | None = None
    windows: list[tuple[datetime, datetime]] = []
    events: list[tuple[datetime, str]] = []
    seen: dict[date, set[int]] = {}
    while tick < end:
        local = tick.astimezone(zone)
        if tick >= start:
            seen.setdefault(local.date(), set()).add(local.hour)
        if local.date() not in skip_days and not s.opted_out:
            if not state_off and _fires(s.off, local):
                state_off, off_since = True, tick
                if tick >= start:
                    events.append((tick, "off"))
            elif state_off and _fires(s.on, local):
                if off_since is not None and tick > start:
                    windows.append((max(off_since, start), tick))
                state_off, off_since = False, None
                if tick >= start:
                    events.append((tick, "on"))
        tick += timedelta(hours=1)
    if state_off and off_since is not None:
        windows.append((max(off_since, start), end))
    return Simulation([(a, b) for a, b in windows if b > a], events, _dst_notes(s, seen))


def _dst_notes(s: Schedule, seen: dict[date, set[int]]) -> list[str]:
    notes = []
    for day, hours in sorted(seen.items()):
        if len(hours) in (0, 24) or min(hours) > 0 or max(hours) < 23:
            continue  # partial first/last day of the horizon
        for kind, rules in (("off", s.off), ("on", s.on)):
            for r in rules:
                if day.weekday() in r.days and r.hour not in hours:
                    notes.append(
                        f"{day.isoformat()}: local {r.hour}:00 does not exist (DST change), so the "
                        f"{kind} rule did not fire that day."
                    )
    return notes
