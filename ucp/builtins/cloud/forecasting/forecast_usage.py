"""``forecast_usage``: per-series model choice by rolling backtest, with intervals and MASE."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from ucp.builtins.base import BuiltinTool, ToolInputError
from ucp.builtins.cloud.common.envelope import (
    Envelope,
    Method,
    OutputModel,
    StrictInput,
    dedupe,
    rnd,
    user_data_source,
)
from ucp.builtins.cloud.common.series import (
    SeriesInput,
    fill_linear,
    fmt_duration,
    iso,
    load_series,
    regular_grid,
)
from ucp.builtins.cloud.forecasting import methods

MAX_FIT_POINTS = 2000  # models fit on at most the last 2,000 steps (83 days hourly): bounded time per call
ModelName = Literal["naive", "seasonal_naive", "holt_winters", "stl_ets", "theta"]


class ForecastInput(StrictInput):
    series: SeriesInput
    horizon: int = Field(default=24, ge=1, le=2000, description="Steps ahead, at interval_minutes.")
    interval_minutes: int | None = Field(
        default=None, ge=1, le=10080, description="Default: native step, but at least 60."
    )
    aggregation: Literal["mean", "max"] = "mean"
    season_length: int | None = Field(
        default=None, ge=1, le=1000, description="Steps per season; default one day."
    )
    folds: int = Field(default=3, ge=1, le=10, description="Rolling backtest origins.")
    level: float = Field(default=0.9, gt=0.5, lt=1.0, description="Prediction-interval coverage.")
    models: list[ModelName] | None = Field(default=None, description="Candidates; default all five.")


class ForecastPoint(OutputModel):
    timestamp: str
    value: float
    lower: float
    upper: float


class ModelScore(OutputModel):
    model: str
    mase: float | None = Field(description="Mean MASE over the folds (scale: in-sample seasonal naive).")
    mae: float | None
    folds: int
    error: str | None = None


class ForecastOutput(Envelope):
    selected_model: str
    interval_minutes: float
    season_length: int
    horizon: int
    forecast: list[ForecastPoint]
    backtest: list[ModelScore]
    skill_vs_naive: float | None = Field(description="1 - MASE(selected)/MASE(naive); > 0 beats it.")
    skill_vs_seasonal_naive: float | None


def _skill(scores: dict[str, methods.Score], sel: str, base: str) -> float | None:
    if base not in scores:
        return None
    a, b = scores[sel].mean_mase, scores[base].mean_mase
    return None if a is None or b is None or b == 0 else rnd(1 - a / b, 4)


def forecast_usage(args: ForecastInput) -> ForecastOutput:
    s = load_series(args.series, "series", min_points=3)
    assumptions, warns = s.notes()
    step = float(args.interval_minutes * 60) if args.interval_minutes else max(s.step_s, 3600.0)
    if step < s.step_s * 0.999:
        raise ToolInputError("interval_minutes", f"finer than the data's step ({fmt_duration(s.step_s)})")
    grid, raw = regular_grid(s, step, args.aggregation)
    y, filled = fill_linear(raw)
    if step != s.step_s:
        assumptions.append(f"Aggregated to {fmt_duration(step)} bins by {args.aggregation}.")
    if filled:
        assumptions.append(
            f"{filled} empty bin(s) of {y.size} were linearly interpolated for model fitting only."
        )
        if filled > 0.2 * y.size:
            warns.append(
                f"{100 * filled / y.size:.0f}% of bins were empty: the forecast rests on interpolation."
            )
    if y.size > MAX_FIT_POINTS:
        assumptions.append(
            f"Models were fitted on the last {MAX_FIT_POINTS} of {y.size} steps (bounded run time; older "
            "history rarely helps a short-horizon forecast)."
        )
        y, grid = y[-MAX_FIT_POINTS:], grid[-MAX_FIT_POINTS:]
    m = args.season_length or max(1, round(86400 / step))
    h = args.horizon
    requested = list(args.models or methods.MODELS)
    base_min = methods.min_train("naive", m)
    if y.size < base_min + h:
        raise ToolInputError(
            "series",
            f"needs at least {base_min + h} points at the {fmt_duration(step)} step for a "
            f"{h}-step horizon; got {y.size}",
        )
    folds = max(1, min(args.folds, (y.size - base_min) // h))
    if folds < args.folds:
        warns.append(f"Too little history for {args.folds} backtest folds; used {folds}.")
    n_train_min = y.size - folds * h
    models = methods.usable_models(requested, n_train_min, m)
    skipped = [x for x in requested if x not in models]
    if skipped:
        warns.append(f"Too little history (or no season) for: {', '.join(skipped)} (season {m} steps).")
    if not models:
        raise ToolInputError("models", f"none of {requested} can run on {n_train_min} training points")
    if np.ptp(y) == 0:
        warns.append("The series is constant: every model forecasts the same value.")
    log: list[str] = []
    scores = methods.backtest(y, h, m, folds, models, args.level, log)
    for sc in scores.values():
        if sc.error:
            warns.append(f"{sc.model} failed in the backtest and was excluded ({sc.error}).")
    sel = methods.select(scores)
    try:
        fc = methods.run_model(sel, y, h, m, args.level, log)
    except Exception as exc:
        warns.append(f"{sel} failed on the full series ({type(exc).__name__}); fell back to naive.")
        sel = "naive"
        fc = methods.run_model("naive", y, h, m, args.level, log)
    nonneg = bool(np.all(s.v >= 0))
    lo = np.maximum(fc.lower, 0.0) if nonneg else fc.lower
    mean = np.maximum(fc.mean, 0.0) if nonneg else fc.mean
    if nonneg:
        assumptions.append("All observations are >= 0, so the forecast and its interval are clipped at 0.")
    last = float(grid[-1])
    points = [
        ForecastPoint(
            timestamp=iso(last + (k + 1) * step),
            value=rnd(float(mean[k])),
            lower=rnd(float(lo[k])),
            upper=rnd(float(fc.upper[k])),
        )
        for k in range(h)
    ]
    table = [
        ModelScore(
            model=sc.model,
            mase=None if sc.mean_mase is None else rnd(sc.mean_mase, 4),
            mae=None if sc.mean_mae is None else rnd(sc.mean_mae),
            folds=len(sc.mae),
            error=sc.error,
        )
        for sc in scores.values()
    ]
    best = scores[sel].mean_mase
    return ForecastOutput(
        method=Method(
            name=f"rolling-origin model selection; selected {sel}",
            reference="naive / seasonal naive baselines, Holt-Winters ETS, STL+ETS and Theta (statsmodels), scored by MASE",
            parameters={
                "horizon": h,
                "interval_seconds": step,
                "season_length": m,
                "folds": folds,
                "level": args.level,
                "candidates": models,
                "mase_scale": f"in-sample seasonal naive (lag {m})",
                "ets": "additive error, damped additive trend, heuristic initialisation",
            },
        ),
        data_sources=[user_data_source("input series", s.start(), s.end())],
        assumptions=dedupe([*assumptions, "Intervals: Gaussian for the baselines, model-based for ETS/STL."]),
        warnings=dedupe(warns + [f"statsmodels: {x}" for x in dedupe(log)][:10]),
        confidence=(
            f"backtest MASE {best:.3f} over {folds} fold(s) of {h} steps"
            if best is not None
            else "backtest MASE unavailable (flat training data)"
        ),
        selected_model=sel,
        interval_minutes=rnd(step / 60, 3),
        season_length=m,
        horizon=h,
        forecast=points,
        backtest=table,
        skill_vs_naive=_skill(scores, sel, "naive"),
        skill_vs_seasonal_naive=_skill(scores, sel, "seasonal_naive"),
    )


TOOL = BuiltinTool(
    name="forecast_usage",
    title="Forecast a usage series",
    description=(
        "Forecast CPU/requests/traffic with prediction intervals. Chooses per series, by rolling-origin backtest, among "
        "naive, seasonal naive, Holt-Winters/ETS, STL+ETS and Theta (statsmodels) and reports each one's MASE and the skill "
        "against both baselines."
    ),
    input_model=ForecastInput,
    output_model=ForecastOutput,
    handler=forecast_usage,
    tags=("cloud", "forecasting", "capacity", "timeseries"),
)
