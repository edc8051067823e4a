"""``plan_schedule``: evaluate or suggest a Cloud Custodian off-hours schedule, with the saving."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
from pydantic import Field

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.common import envelope
from ucp.builtins.cloud.common.envelope import (
    HOURS_PER_MONTH,
    DataSource,
    Envelope,
    Method,
    OutputModel,
    StrictInput,
    dedupe,
    rnd,
    user_data_source,
)
from ucp.builtins.cloud.common.instances import catalog_sources, get_type, staleness_warnings
from ucp.builtins.cloud.common.series import SeriesInput, load_series
from ucp.builtins.cloud.schedules import idlewindows, offhours


class PolicyDefaults(StrictInput):
    default_tz: str = Field(
        default="et", description="Custodian default_tz: alias (pt, et, utc...) or IANA name."
    )
    off_hour: int = Field(default=19, ge=0, le=23)
    on_hour: int = Field(default=7, ge=0, le=23)
    weekends: bool = Field(default=True, description="Stay off over the weekend.")
    weekends_only: bool = False
    holidays: list[date] = Field(default_factory=list, description="Custodian skip-days (YYYY-MM-DD).")


class ScheduleInput(PolicyDefaults):
    tag: str | None = Field(
        default=None, description="maid_offhours value, e.g. off=(M-F,19);on=(M-F,7);tz=pt"
    )
    usage: SeriesInput | None = Field(default=None, description="Usage series to find idle windows in.")
    idle_threshold: float = Field(
        default=5.0, ge=0, description="Usage at or below this is idle (usage units)."
    )
    idle_quantile: float = Field(default=0.95, gt=0, le=1)
    min_off_hours: int = Field(default=3, ge=1, le=168)
    start: date | None = Field(default=None, description="Horizon start (local midnight); default today.")
    horizon_days: int = Field(default=7, ge=1, le=366)
    instance_type: str | None = Field(default=None, description="Prices the saving (on-demand, us-east-1).")
    hourly_cost_usd: float | None = Field(default=None, ge=0)


class RuleOut(OutputModel):
    days: str
    hour: int


class Window(OutputModel):
    start: str
    end: str
    hours: float


class ScheduleOutput(Envelope):
    tag: str | None = Field(description="The schedule as a maid_offhours tag value.")
    source: str = Field(description="'tag', 'suggested' or 'opted-out'.")
    time_zone: str
    off: list[RuleOut]
    on: list[RuleOut]
    off_windows: list[Window] = Field(description="Local times within the horizon.")
    off_hours: float
    on_hours: float
    saving_usd: float | None = Field(description="Over the horizon.")
    saving_usd_month: float | None
    idle_profile: list[str] | None = Field(
        default=None, description="Per weekday: '.' idle, '#' busy, '?' no data."
    )
    busy_samples_in_off_windows: int | None = Field(
        default=None, description="Usage samples above threshold the schedule would have stopped."
    )
    busy_share_in_off_windows_pct: float | None = None


def _schedule(args: ScheduleInput) -> offhours.Schedule:
    try:
        return offhours.parse_tag(
            args.tag or "", args.default_tz, args.off_hour, args.on_hour, args.weekends, args.weekends_only
        )
    except offhours.ScheduleError as exc:
        raise ToolInputError("tag" if args.tag is not None else "default_tz", str(exc)) from None


def _hourly(args: ScheduleInput) -> tuple[float | None, list[DataSource], list[str]]:
    if args.hourly_cost_usd is not None:
        return args.hourly_cost_usd, [], []
    if args.instance_type is None:
        return None, [], ["No instance_type or hourly_cost_usd: the saving is given in hours only."]
    it = get_type(args.instance_type, "instance_type")
    if it.od_usd_hr is None:
        raise ToolInputError("instance_type", f"{it.name} has no on-demand price in the snapshot")
    return it.od_usd_hr, catalog_sources(use_spot=False), staleness_warnings(use_spot=False)


def _busy_check(sim: offhours.Simulation, t: np.ndarray, v: np.ndarray, thr: float) -> tuple[int, float]:
    busy = v > thr
    inside = np.zeros(t.size, dtype=bool)
    for a, b in sim.off_windows:
        inside |= (t >= a.timestamp()) & (t < b.timestamp())
    n_busy = int(busy.sum())
    hit = int((busy & inside).sum())
    return hit, (100.0 * hit / n_busy if n_busy else 0.0)


def plan_schedule(args: ScheduleInput) -> ScheduleOutput:
    if args.tag is None and args.usage is None:
        raise ToolInputError("tag", "give a tag to evaluate and/or usage to suggest a schedule from")
    if args.off_hour == args.on_hour:
        raise ToolInputError("on_hour", "equals off_hour")
    try:
        zone = offhours.resolve_tz(args.default_tz)
    except offhours.ScheduleError as exc:
        raise ToolInputError("default_tz", str(exc)) from None
    assumptions = [
        "Custodian's off/on-hour policies run hourly at :00 UTC; a resource stopped by hand stays as it is.",
        "Saving counts compute hours only: attached volumes, IPs and snapshots keep billing.",
    ]
    warns: list[str] = []
    sources: list[DataSource] = []
    sched: offhours.Schedule | None = _schedule(args) if args.tag is not None else None
    source = "tag"
    prof = None
    series = None
    if args.usage is not None:
        series = load_series(args.usage, "usage", min_points=24)
        a, w = series.notes()
        assumptions += a
        warns += w
        sources.append(user_data_source("usage series", series.start(), series.end()))
        if series.span_s < 7 * 86400:
            warns.append(
                f"Only {series.span_s / 86400:.1f} days of usage: weekday slots without data count as busy."
            )
        sz = sched.zone if sched else zone
        prof = idlewindows.profile(
            series.t, series.v, sz, args.idle_threshold, args.idle_quantile, args.min_off_hours
        )
        if sched is None:
            off, on = idlewindows.transitions(prof.idle)
            tzname = args.default_tz.lower()
            if prof.idle.all():
                warns.append(
                    "Idle in every hour of the week: consider stopping or deleting it instead of a schedule."
                )
            if not off:
                warns.append("No idle window of at least min_off_hours: no schedule suggested.")
            sched = offhours.Schedule(off, on, tzname)
            source = "suggested"
    assert sched is not None
    if sched.opted_out:
        source = "opted-out"
        warns.append("The tag 'off' opts the resource out of off-hours: it is never stopped.")
    start_day = args.start or envelope.today()
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=sched.zone).astimezone(UTC)
    end = datetime.combine(
        start_day + timedelta(days=args.horizon_days), datetime.min.time(), tzinfo=sched.zone
    ).astimezone(UTC)
    sim = offhours.simulate(sched, start, end, frozenset(args.holidays))
    warns += sim.notes
    if sched.off and not sched.on:
        warns.append("No on rule: once stopped, the resource stays off until started by hand.")
    off_h = sum((b - a).total_seconds() for a, b in sim.off_windows) / 3600
    total_h = (end - start).total_seconds() / 3600
    hourly, price_sources, price_warns = _hourly(args)
    sources += price_sources
    warns += price_warns
    busy = None
    if series is not None and sched.off:
        sim_hist = offhours.simulate(
            sched, series.start(), series.end() + timedelta(seconds=1), frozenset(args.holidays)
        )
        busy = _busy_check(sim_hist, series.t, series.v, args.idle_threshold)
        if busy[0]:
            warns.append(
                f"{busy[0]} usage sample(s) above the idle threshold fall inside off windows in the history."
            )
    return ScheduleOutput(
        method=Method(
            name="Cloud Custodian off-hours simulation"
            + (" + idle-window suggestion" if prof is not None else ""),
            reference="Cloud Custodian offhour/onhour filters (maid_offhours tag)",
            parameters={
                "default_tz": args.default_tz,
                "off_hour": args.off_hour,
                "on_hour": args.on_hour,
                "weekends": args.weekends,
                "weekends_only": args.weekends_only,
                "holidays": [d.isoformat() for d in args.holidays],
                "horizon_days": args.horizon_days,
                "idle_threshold": args.idle_threshold,
                "idle_quantile": args.idle_quantile,
                "min_off_hours": args.min_off_hours,
            },
        ),
        data_sources=sources,
        assumptions=assumptions,
        warnings=dedupe(warns),
        confidence=None
        if prof is None
        else f"idle profile from {int(prof.has_data.sum())} of 168 weekly hour slots",
        tag=None if source == "opted-out" or not sched.off else sched.tag(),
        source=source,
        time_zone=str(sched.zone),
        off=[RuleOut(days=offhours.days_text(r.days), hour=r.hour) for r in sched.off],
        on=[RuleOut(days=offhours.days_text(r.days), hour=r.hour) for r in sched.on],
        off_windows=[
            Window(
                start=a.astimezone(sched.zone).isoformat(),
                end=b.astimezone(sched.zone).isoformat(),
                hours=rnd((b - a).total_seconds() / 3600, 3),
            )
            for a, b in sim.off_windows
        ],
        off_hours=rnd(off_h, 3),
        on_hours=rnd(total_h - off_h, 3),
        saving_usd=None if hourly is None else rnd(off_h * hourly, 4),
        saving_usd_month=None if hourly is None else rnd(off_h / total_h * HOURS_PER_MONTH * hourly, 2),
        idle_profile=None if prof is None else prof.rows(),
        busy_samples_in_off_windows=None if busy is None else busy[0],
        busy_share_in_off_windows_pct=None if busy is None else rnd(busy[1], 3),
    )


TOOL = BuiltinTool(
    name="plan_schedule",
    title="Plan off-hours for machines",
    description=(
        "Cloud Custodian off-hours: evaluate a maid_offhours tag (its grammar, time zones, DST, holiday skip-days) or "
        "suggest one from idle windows in a usage series; returns the off windows, the hours and USD saved. Read-only: "
        "use apply_schedule to tag resources."
    ),
    input_model=ScheduleInput,
    output_model=ScheduleOutput,
    handler=plan_schedule,
    tags=("cloud", "scheduling", "off-hours", "custodian", "finops"),
)
