"""Rolling-origin backtest of ``forecast_usage`` against statsforecast's AutoETS and AutoTheta.

Each NAB series is averaged to hourly; at ``ORIGINS`` origins (``n - k x 24 h`` for
k = 1..7) every candidate forecasts the next 24 h from the data before the origin, scored by
MASE (scale: the in-sample seasonal-naive MAE, lag 24, of that origin's training part).
"selected" is what the tool would answer at each origin: ``methods.select`` over the
``FOLDS`` (the tool's default, 3) origins before it, exactly the tool's own per-series
model selection, so the selection is scored out of sample at every origin. The forecasts at
the inner origins are computed once and shared by the outer ones (origins are 24 h apart).
Per series the MASE is the mean over its origins; a split's figure is the median over its
series (``nab.DEV``: tuned on; ``nab.HELD_OUT``: reported only). The peers are the ones a
user would reach for: statsforecast's AutoETS and AutoTheta (the ``bench`` extra). AutoARIMA
is left out: one fit with a 24 h season takes ~24 s here, ~2 h for the whole table.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ucp.bench.cloud import nab
from ucp.builtins.cloud.forecasting import methods

HORIZON = 24
SEASON = 24
ORIGINS = 7
FOLDS = 3
LEVEL = 0.9
PEERS = ("autoets", "autotheta")
COLUMNS = (*methods.MODELS, "selected", *PEERS)


def _peer(name: str) -> Callable[[np.ndarray, int, int, float], methods.Forecast] | None:
    try:
        from statsforecast.models import AutoETS, AutoTheta
    except ImportError:  # the bench extra is not installed
        return None
    cls = {"autoets": AutoETS, "autotheta": AutoTheta}[name]

    def fit(y: np.ndarray, h: int, m: int, level: float) -> methods.Forecast:
        pct = round(level * 100)
        out = cls(season_length=m).forecast(y=y.astype(np.float64), h=h, level=[pct])
        return methods.Forecast(
            np.asarray(out["mean"]), np.asarray(out[f"lo-{pct}"]), np.asarray(out[f"hi-{pct}"])
        )

    return fit


def _score(
    fit: Callable[[np.ndarray, int, int, float], methods.Forecast], y: np.ndarray, origin: int
) -> tuple[float, float, float] | None:
    """(MASE, MAE, interval coverage) of one forecast from ``origin``; None if it cannot run."""
    train, test = y[:origin], y[origin : origin + HORIZON]
    scale = methods.mase_scale(train, SEASON)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = fit(train, HORIZON, SEASON, LEVEL)
    except Exception:  # statsmodels raises many kinds on degenerate data
        return None
    if not np.all(np.isfinite(fc.mean)) or scale <= 0:
        return None
    mae = float(np.mean(np.abs(fc.mean - test)))
    cover = float(np.mean((test >= fc.lower) & (test <= fc.upper)))
    return mae / scale, mae, cover


def series_backtest(name: str, origins: int = ORIGINS, peers: bool = True) -> dict[str, Any]:
    y = nab.hourly(nab.load_nab(name))
    n = y.size
    scores: dict[tuple[str, int], tuple[float, float, float] | None] = {}
    for k in range(1, origins + FOLDS + 1):
        origin = n - k * HORIZON
        for model in methods.MODELS:
            if origin >= methods.min_train(model, SEASON):
                scores[(model, k)] = _score(methods.FITTERS[model], y, origin)
        if peers and k <= origins and origin >= 2 * SEASON + 2:
            for peer in PEERS:
                fit = _peer(peer)
                scores[(peer, k)] = None if fit is None else _score(fit, y, origin)
    per: dict[str, list[float]] = {c: [] for c in COLUMNS}
    cover: list[float] = []
    chosen: list[str] = []
    for k in range(1, origins + 1):
        if n - k * HORIZON < methods.min_train("naive", SEASON) + HORIZON:
            break
        for model in (*methods.MODELS, *PEERS):
            got = scores.get((model, k))
            if got is not None:
                per[model].append(got[0])
        inner: dict[str, methods.Score] = {}
        for model in methods.MODELS:
            folds = [scores.get((model, j)) for j in range(k + 1, k + FOLDS + 1)]
            if all(f is not None for f in folds):
                inner[model] = methods.Score(model, [f[0] for f in folds if f], [f[1] for f in folds if f])
        sel = methods.select(inner)
        got = scores.get((sel, k))
        if got is not None:
            per["selected"].append(got[0])
            cover.append(got[2])
            chosen.append(sel)
    row: dict[str, Any] = {"series": name, "split": nab.split_of(name), "origins": len(per["naive"])}
    for c in COLUMNS:
        row[c] = float(np.mean(per[c])) if per[c] else None
    row["selected_models"] = chosen
    row["selected_coverage"] = float(np.mean(cover)) if cover else None
    return row


def _median(xs: list[Any]) -> float | None:
    vals = [float(x) for x in xs if x is not None and math.isfinite(x)]
    return float(np.median(vals)) if vals else None


def forecast_backtest(
    names: list[str] | None = None, origins: int = ORIGINS, peers: bool = True
) -> dict[str, Any]:
    rows = [series_backtest(name, origins, peers) for name in names or nab.nab_names()]
    summary: dict[str, dict[str, Any]] = {}
    for split in ("dev", "held_out", "all"):
        sel = [r for r in rows if split == "all" or r["split"] == split]
        if not sel:
            continue
        summary[split] = {c: _median([r[c] for r in sel]) for c in COLUMNS}
        summary[split]["series"] = len(sel)
        summary[split]["selected_beats_or_ties_holt_winters"] = sum(
            1
            for r in sel
            if r["selected"] is not None and (r["holt_winters"] is None or r["selected"] <= r["holt_winters"])
        )
        covers = [r["selected_coverage"] for r in sel if r["selected_coverage"] is not None]
        summary[split]["selected_coverage"] = float(np.mean(covers)) if covers else None
    return {
        "rows": rows,
        "median_mase": summary,
        "horizon_hours": HORIZON,
        "origins": origins,
        "folds": FOLDS,
        "peers_available": _peer("autoets") is not None,
    }
