"""Forecasting candidates, MASE and the rolling-origin backtest (pure functions).

Candidates: naive, seasonal naive, Holt-Winters (additive ETS with a damped trend and
additive season), STL + ETS and the Theta method (statsmodels; classical deseasonalisation,
as in Assimakopoulos & Nikolopoulos and the M3 competition). Theta was added after the
rolling-origin backtest (``ucp bench cloud``): without it, selection could only pick
Holt-Winters where it blows up on some series. The model is chosen per series by the
lowest mean MASE over rolling origins; MASE is scaled by the in-sample MAE of the
seasonal-naive forecast (lag = the season) on each fold's training part.
statsmodels' warnings are captured and returned, never raised (``warnings.catch_warnings``
is process-global on Python 3.11, so a concurrent call may see another's warnings: they
are only reported, never acted on).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MODELS = ("naive", "seasonal_naive", "holt_winters", "stl_ets", "theta")


@dataclass(frozen=True)
class Forecast:
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


@dataclass
class Score:
    model: str
    mase: list[float] = field(default_factory=list)
    mae: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def mean_mase(self) -> float | None:
        vals = [m for m in self.mase if math.isfinite(m)]
        return float(np.mean(vals)) if vals and self.error is None else None

    @property
    def mean_mae(self) -> float | None:
        return float(np.mean(self.mae)) if self.mae and self.error is None else None


def _z(level: float) -> float:
    from scipy.stats import norm  # lazy: keeps `import ucp.builtins.cloud` fast (cold start)

    return float(norm.ppf(0.5 + level / 2))


def naive(y: np.ndarray, h: int, m: int, level: float) -> Forecast:
    mean = np.full(h, y[-1])
    sigma = float(np.std(np.diff(y), ddof=1)) if y.size > 2 else 0.0
    se = sigma * np.sqrt(np.arange(1, h + 1))
    return Forecast(mean, mean - _z(level) * se, mean + _z(level) * se)


def seasonal_naive(y: np.ndarray, h: int, m: int, level: float) -> Forecast:
    k = np.arange(h)
    mean = y[y.size - m + (k % m)]
    d = y[m:] - y[:-m]
    sigma = float(np.std(d, ddof=1)) if d.size > 1 else 0.0
    se = sigma * np.sqrt(np.floor(k / m) + 1)
    return Forecast(mean, mean - _z(level) * se, mean + _z(level) * se)


def holt_winters(y: np.ndarray, h: int, m: int, level: float) -> Forecast:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = "add" if m > 1 else None
    model = ETSModel(
        pd.Series(y),
        error="add",
        trend="add",
        damped_trend=True,
        seasonal=seasonal,
        seasonal_periods=m if m > 1 else None,
        initialization_method="heuristic",
    )
    res = model.fit(disp=False)
    frame = res.get_prediction(start=y.size, end=y.size + h - 1).summary_frame(alpha=1 - level)
    return Forecast(frame["mean"].to_numpy(), frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy())


def stl_ets(y: np.ndarray, h: int, m: int, level: float) -> Forecast:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.forecasting.stl import STLForecast

    stl = STLForecast(
        pd.Series(y),
        ETSModel,
        model_kwargs={
            "error": "add",
            "trend": "add",
            "damped_trend": True,
            "initialization_method": "heuristic",
        },
        period=m,
    )
    res = stl.fit(fit_kwargs={"disp": False})
    frame = res.get_prediction(start=y.size, end=y.size + h - 1).summary_frame(alpha=1 - level)
    return Forecast(
        frame["mean"].to_numpy(), frame["mean_ci_lower"].to_numpy(), frame["mean_ci_upper"].to_numpy()
    )


def theta(y: np.ndarray, h: int, m: int, level: float) -> Forecast:
    import pandas as pd
    from statsmodels.tsa.forecasting.theta import ThetaModel

    res = ThetaModel(pd.Series(y), period=m if m > 1 else None, deseasonalize=m > 1, method="additive").fit()
    mean = res.forecast(h).to_numpy()
    pi = res.prediction_intervals(h, alpha=1 - level)
    return Forecast(mean, pi.iloc[:, 0].to_numpy(), pi.iloc[:, 1].to_numpy())


FITTERS: dict[str, Callable[[np.ndarray, int, int, float], Forecast]] = {
    "naive": naive,
    "seasonal_naive": seasonal_naive,
    "holt_winters": holt_winters,
    "stl_ets": stl_ets,
    "theta": theta,
}


def min_train(model: str, m: int) -> int:
    """Shortest training part a model accepts."""
    if model == "naive":
        return 3
    if model == "seasonal_naive":
        return m + 2
    return max(2 * m + 2, 12) if m > 1 else 12


def mase_scale(y: np.ndarray, m: int) -> float:
    """In-sample MAE of the seasonal-naive forecast (lag 1 if the season does not fit)."""
    lag = m if y.size > m else 1
    scale = float(np.mean(np.abs(y[lag:] - y[:-lag])))
    if scale == 0 and lag != 1:
        scale = float(np.mean(np.abs(np.diff(y))))
    return scale


def run_model(model: str, y: np.ndarray, h: int, m: int, level: float, log: list[str]) -> Forecast:
    """Fit and forecast, recording statsmodels' warnings in ``log`` instead of raising them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fc = FITTERS[model](y, h, m, level)
    for w in caught:
        log.append(f"{model}: {w.category.__name__}: {str(w.message).splitlines()[0][:160]}")
    if not (np.all(np.isfinite(fc.mean)) and np.all(np.isfinite(fc.lower)) and np.all(np.isfinite(fc.upper))):
        raise ArithmeticError("non-finite forecast")
    return fc


def usable_models(requested: list[str], n_train: int, m: int) -> list[str]:
    out = []
    for name in requested:
        if name in ("seasonal_naive", "stl_ets") and m < 2:
            continue
        if n_train >= min_train(name, m):
            out.append(name)
    return out


def backtest(
    y: np.ndarray, h: int, m: int, folds: int, models: list[str], level: float, log: list[str]
) -> dict[str, Score]:
    """Rolling origins at n - k*h for k = folds..1; each fold forecasts h steps."""
    n = y.size
    scores = {name: Score(name) for name in models}
    for k in range(folds, 0, -1):
        origin = n - k * h
        train, test = y[:origin], y[origin : origin + h]
        scale = mase_scale(train, m)
        for name, sc in scores.items():
            if sc.error is not None:
                continue
            try:
                fc = run_model(name, train, h, m, level, log)
            except Exception as exc:  # statsmodels raises many kinds on degenerate data
                sc.error = f"{type(exc).__name__}: {str(exc)[:120]}"
                continue
            mae = float(np.mean(np.abs(fc.mean - test)))
            sc.mae.append(mae)
            sc.mase.append(mae / scale if scale > 0 else math.inf)
    return scores


def select(scores: dict[str, Score]) -> str:
    """Lowest mean MASE (else MAE); ties go to the simpler model (MODELS order)."""
    ok = [s for s in scores.values() if s.error is None and s.mae]
    if not ok:
        return "naive"
    if all(s.mean_mase is not None for s in ok):
        return min(ok, key=lambda s: (round(s.mean_mase or 0.0, 9), MODELS.index(s.model))).model
    return min(ok, key=lambda s: (round(s.mean_mae or 0.0, 9), MODELS.index(s.model))).model
