"""plan_schedule: Custodian tag grammar, DST, holidays, suggestion, non-overlap property."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.builtins.cloud.conftest import call, error_field
from ucp.builtins.cloud.schedules import offhours
from ucp.builtins.cloud.schedules import plan_schedule as schedule

TOOL = schedule.TOOL


def test_parse_custodian_examples() -> None:
    s = offhours.parse_tag("off=[(M-F,21),(U,18)];on=[(M-F,6),(U,10)];tz=pt")
    assert s.off == (offhours.Rule((0, 1, 2, 3, 4), 21), offhours.Rule((6,), 18))
    assert s.on == (offhours.Rule((0, 1, 2, 3, 4), 6), offhours.Rule((6,), 10))
    assert str(s.zone) == "America/Los_Angeles"
    assert offhours.expand_days("f-m") == (4, 5, 6, 0)  # wraps like Custodian
    d = offhours.parse_tag("")  # empty: policy defaults
    assert d.off == (offhours.Rule((0, 1, 2, 3, 4), 19),)
    assert d.on == (offhours.Rule((0, 1, 2, 3, 4), 7),)
    assert str(offhours.parse_tag("tz=Europe/Berlin").zone) == "Europe/Berlin"
    assert (
        offhours.parse_tag("'OFF=(M-F,19);ON=(M-F,7);TZ=ET'").off[0].hour == 19
    )  # lower-cased, quotes stripped
    assert offhours.parse_tag("off=(M-F,20);").on == d.on  # missing 'on' falls back to the default
    assert offhours.parse_tag("off").opted_out


@pytest.mark.parametrize(
    "tag",
    [
        "off=(M-F,25)",
        "off=(X,19)",
        "foo=bar",
        "off=(M-F, 19)",
        "off=(M-F,19);tz=mars",
        "off=(M-F,19);on=(M-F,19)",
        "off=(M-F)",
    ],
)
def test_bad_tags_name_the_tag_field(tag: str) -> None:
    assert error_field(TOOL, {"tag": tag}) == "tag"


def test_round_trip_of_tag_text() -> None:
    s = offhours.parse_tag("off=[(M-F,21),(U,18)];on=[(M-F,6),(U,10)];tz=pt")
    again = offhours.parse_tag(s.tag())
    assert (again.off, again.on, again.tz) == (s.off, s.on, s.tz)


def test_default_week_by_hand() -> None:
    out = call(
        TOOL, {"tag": "off=(M-F,19);on=(M-F,7);tz=et", "start": "2026-03-16", "instance_type": "m5.large"}
    )
    # Mon 00-07 (carried from the weekend) + 4 nights of 12 h + Fri 19:00 to the horizon end (53 h)
    assert out["off_hours"] == pytest.approx(7 + 4 * 12 + 53)
    assert out["on_hours"] == pytest.approx(168 - 108)
    assert out["saving_usd"] == pytest.approx(108 * 0.096)
    assert out["off_windows"][1]["start"] == "2026-03-16T19:00:00-04:00"


def test_holiday_skips_both_policies() -> None:
    out = call(
        TOOL, {"tag": "off=(M-F,19);on=(M-F,7);tz=et", "start": "2026-03-16", "holidays": ["2026-03-16"]}
    )
    assert out["off_windows"][0]["hours"] == pytest.approx(31)  # Monday's 07:00 start is skipped
    assert out["off_hours"] == pytest.approx(120)


def test_dst_spring_forward_hour_does_not_fire() -> None:
    out = call(TOOL, {"tag": "off=(U,2);on=(U,5);tz=et", "start": "2026-03-02", "horizon_days": 14})
    assert out["off_hours"] == pytest.approx(3)  # only 15 March; 2:00 did not exist on 8 March
    assert any("2026-03-08" in w and "DST" in w for w in out["warnings"])


def test_dst_fall_back_repeated_hour() -> None:
    out = call(TOOL, {"tag": "off=(U,1);on=(U,3);tz=et", "start": "2026-10-26", "horizon_days": 7})
    # 01:00 EDT (05:00 UTC) to 03:00 EST (08:00 UTC): three real hours
    assert out["off_hours"] == pytest.approx(3)


def test_suggestion_from_usage() -> None:
    t0 = datetime(2026, 2, 2, tzinfo=UTC)  # a Monday
    pts = []
    for i in range(24 * 21):
        t = t0 + timedelta(hours=i)
        busy = t.weekday() < 5 and 9 <= t.hour <= 17
        pts.append({"timestamp": t.isoformat(), "value": 50.0 if busy else 1.0})
    out = call(TOOL, {"usage": pts, "default_tz": "utc", "start": "2026-03-16", "instance_type": "m5.large"})
    assert out["source"] == "suggested"
    assert out["tag"] == "off=(M-F,18);on=(M-F,9);tz=utc"
    assert out["off_hours"] == pytest.approx(4 * 15 + 63)
    assert out["busy_samples_in_off_windows"] == 0
    assert out["idle_profile"][0] == "M " + "." * 9 + "#" * 9 + "." * 6
    # the same usage judged against a tag that stops during working hours
    bad = call(TOOL, {"usage": pts, "tag": "off=(M-F,12);on=(M-F,14);tz=utc", "start": "2026-03-16"})
    assert bad["busy_samples_in_off_windows"] == 3 * 5 * 2
    assert bad["source"] == "tag"


def test_bad_inputs() -> None:
    assert error_field(TOOL, {}) == "tag"
    assert error_field(TOOL, {"tag": "", "default_tz": "nowhere"}) == "default_tz"
    assert error_field(TOOL, {"tag": "", "off_hour": 7, "on_hour": 7}) == "on_hour"
    assert error_field(TOOL, {"tag": "", "instance_type": "m5.jumbo"}) == "instance_type"
    assert error_field(TOOL, {"usage": [{"timestamp": "2026-01-01T00:00:00Z", "value": 1}]}) == "usage"
    assert error_field(TOOL, {"tag": "", "holidays": ["2026-13-01"]}) == "holidays[0]"


day_spec = st.sampled_from(["M", "T", "W", "H", "F", "S", "U", "M-F", "S-U", "F-M", "T-H", "M-U"])
rule = st.tuples(day_spec, st.integers(0, 23))


@settings(max_examples=120, deadline=None)
@given(
    st.lists(rule, min_size=1, max_size=3),
    st.lists(rule, max_size=3),
    st.sampled_from(["et", "pt", "utc", "cet", "it", "aet", "Asia/Kathmandu"]),
    st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    st.integers(1, 30),
    st.lists(st.dates(date(2025, 1, 1), date(2028, 1, 31)), max_size=3),
)
def test_off_and_on_never_overlap(
    off: list[tuple[str, int]],
    on: list[tuple[str, int]],
    tz: str,
    start: date,
    days: int,
    holidays: list[date],
) -> None:
    def spec(rules: list[tuple[str, int]]) -> str:
        inner = ",".join(f"({d},{h})" for d, h in rules)
        return inner if len(rules) == 1 else f"[{inner}]"

    tag = f"off={spec(off)}" + (f";on={spec(on)}" if on else "") + f";tz={tz}"
    try:
        sched = offhours.parse_tag(tag)
    except offhours.ScheduleError:
        assume(False)
        return
    t0 = datetime.combine(start, datetime.min.time(), tzinfo=sched.zone).astimezone(UTC)
    t1 = t0 + timedelta(days=days)
    sim = offhours.simulate(sched, t0, t1, frozenset(holidays))
    prev_end = t0
    for a, b in sim.off_windows:
        assert prev_end <= a < b <= t1  # sorted, disjoint, inside the horizon
        prev_end = b
    # on-time is the complement: every instant is either on or off, never both
    off_s = sum((b - a).total_seconds() for a, b in sim.off_windows)
    on_s = (t1 - t0).total_seconds() - off_s
    assert on_s >= 0
    kinds = [k for _, k in sim.events]
    assert all(x != y for x, y in pairwise(kinds))  # off and on alternate
