"""Backtests of the cloud tools on the shipped NAB series (``python -m ucp.bench.cloud.backtest``).

1. Forecasting: hourly means, the last 24 h held out; each candidate's MASE (scale:
   in-sample seasonal naive, lag 24) and the tool's per-series choice (made by its own
   3-fold rolling backtest on the training part only).
2. Anomalies: the 30 labelled NAB windows; a window is caught when a detected point falls
   inside it; a false alarm is a detected window (points within an hour merged, as the
   tool reports them) that touches no labelled window; reported per day of data.
3. Rightsizing: each CPU trace assumed to run on an m5.2xlarge; train on the first
   week, test on the next; saving vs the share of test intervals that saturate.
4. Bin packing (synthetic, seeded: no real pod requests are shipped): first/best-fit
   decreasing against the LP lower bound.

Two NAB series repeat timestamps at a DST change; the harness sorts them and keeps the
first value of each timestamp (the tools themselves reject such input).
"""

from __future__ import annotations

import gzip
import io
import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ucp.builtins.cloud.anomalies import detect_anomalies, detectors
from ucp.builtins.cloud.common.catalog import get_type, load_catalog
from ucp.builtins.cloud.common.series import Series
from ucp.builtins.cloud.forecasting import methods
from ucp.builtins.cloud.packing import heuristics
from ucp.builtins.cloud.rightsizing import sizing

CPU_SERIES = (
    "ec2_cpu_utilization_24ae8d",
    "ec2_cpu_utilization_53ea38",
    "ec2_cpu_utilization_5f5533",
    "ec2_cpu_utilization_77c1ca",
    "ec2_cpu_utilization_825cc2",
    "ec2_cpu_utilization_ac20cd",
    "ec2_cpu_utilization_c6585a",
    "ec2_cpu_utilization_fe7f93",
    "rds_cpu_utilization_cc0c53",
    "rds_cpu_utilization_e47b3b",
)
ANOMALY_CONFIGS = (
    ("shesd", "medium"),
    ("shesd", "low"),
    ("robust_z", "medium"),
    ("robust_z", "low"),
    ("both", "medium"),
)
RIGHTSIZE_PROFILES = ("aws-default", "vpa-like", "azure-user-facing", "azure-batch", "p95-no-headroom")


def _nab_dir() -> Any:
    return resources.files("ucp.bench.cloud").joinpath("data", "nab")


def nab_names() -> list[str]:
    return sorted(p.name[: -len(".csv.gz")] for p in _nab_dir().iterdir() if p.name.endswith(".csv.gz"))


def load_nab(name: str) -> Series:
    """A shipped NAB series as a validated ``Series`` (sorted, first of duplicate timestamps kept)."""
    raw = gzip.decompress(_nab_dir().joinpath(f"{name}.csv.gz").read_bytes()).decode()
    df = pd.read_csv(io.StringIO(raw))
    t = ((pd.to_datetime(df["timestamp"]) - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)).to_numpy(
        np.float64
    )
    v = df["value"].to_numpy(dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    keep = np.concatenate([[True], np.diff(t) > 0])
    t, v = t[keep], v[keep]
    d = np.diff(t)
    step = float(np.median(d))
    gaps = [(float(t[j]), float(t[j + 1])) for j in np.flatnonzero(d > 1.5 * step)]
    return Series(t=t, v=v, field=name, step_s=step, gaps=gaps)


def labelled_windows() -> dict[str, list[tuple[float, float]]]:
    data = json.loads(_nab_dir().joinpath("combined_windows.json").read_text())
    out: dict[str, list[tuple[float, float]]] = {}
    for key, wins in data.items():
        if key.startswith("realAWSCloudwatch/"):
            name = key.split("/", 1)[1][: -len(".csv")]
            out[name] = [(pd.Timestamp(a).timestamp(), pd.Timestamp(b).timestamp()) for a, b in wins]
    return out


def hourly(s: Series) -> np.ndarray:
    idx = np.floor((s.t - s.t[0]) / 3600).astype(np.int64)
    sums = np.bincount(idx, weights=s.v)
    counts = np.bincount(idx)
    y = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    x = np.arange(y.size)
    nan = np.isnan(y)
    y[nan] = np.interp(x[nan], x[~nan], y[~nan])
    return y


def forecast_backtest(names: list[str] | None = None, horizon: int = 24, season: int = 24) -> dict[str, Any]:
    rows = []
    for name in names or nab_names():
        y = hourly(load_nab(name))
        train, test = y[:-horizon], y[-horizon:]
        scale = methods.mase_scale(train, season)
        log: list[str] = []
        row: dict[str, Any] = {"series": name}
        for model in methods.MODELS:
            try:
                fc = methods.run_model(model, train, horizon, season, 0.9, log)
                row[model] = float(np.mean(np.abs(fc.mean - test))) / scale
            except Exception:
                row[model] = None
        inner = methods.backtest(train, horizon, season, 3, list(methods.MODELS), 0.9, log)
        chosen = methods.select(inner)
        row["selected_model"] = chosen
        row["selected"] = row[chosen]
        rows.append(row)
    cols = [*methods.MODELS, "selected"]
    summary = {c: _median([r[c] for r in rows]) for c in cols}
    beats = sum(1 for r in rows if r["selected"] is not None and r["selected"] <= r["naive"])
    return {
        "rows": rows,
        "median_mase": summary,
        "selected_beats_or_ties_naive": f"{beats}/{len(rows)}",
        "horizon_hours": horizon,
    }


def _median(xs: list[Any]) -> float | None:
    vals = [float(x) for x in xs if x is not None]
    return float(np.median(vals)) if vals else None


@dataclass
class _Tally:
    windows: int = 0
    caught: int = 0
    false_alarms: int = 0
    days: float = 0.0


def anomaly_backtest(names: list[str] | None = None) -> dict[str, Any]:
    labels = labelled_windows()
    tallies = {f"{m}/{s}": _Tally() for m, s in ANOMALY_CONFIGS}
    for name in names or nab_names():
        s = load_nab(name)
        wins = labels.get(name, [])
        period, window, gap = detect_anomalies.defaults(s.step_s)
        for method, sens in ANOMALY_CONFIGS:
            tally = tallies[f"{method}/{sens}"]
            found = detect_anomalies.run_detectors(
                s, method, detect_anomalies.SENSITIVITY[sens], "both", period, window, []
            )
            pos = np.asarray(sorted(found), dtype=np.int64)
            times = s.t[pos] if pos.size else np.empty(0)
            tally.windows += len(wins)
            tally.caught += sum(1 for a, b in wins if np.any((times >= a) & (times <= b)))
            for a, b in detectors.group_windows(pos, gap):
                ta, tb = s.t[a], s.t[b]
                if not any(ta <= wb and tb >= wa for wa, wb in wins):
                    tally.false_alarms += 1
            tally.days += s.span_s / 86400
    return {
        "rows": [
            {
                "detector": k,
                "recall": t.caught / t.windows if t.windows else None,
                "caught": t.caught,
                "windows": t.windows,
                "false_alarms_per_day": t.false_alarms / t.days if t.days else None,
            }
            for k, t in tallies.items()
        ]
    }


def rightsize_backtest(names: tuple[str, ...] = CPU_SERIES, current: str = "m5.2xlarge") -> dict[str, Any]:
    cur = get_type(current, "current")
    vcpu = float(cur.vcpu or 0)
    pool = sizing.candidates(cur, None, False)
    rows = []
    for prof_name in RIGHTSIZE_PROFILES:
        prof = (
            sizing.Profile("p95-no-headroom", 95.0, 0.0, 100.0, 0.0)
            if prof_name == "p95-no-headroom"
            else sizing.PROFILES[prof_name]
        )
        savings: list[float] = []
        net: list[float] = []
        sat_all: list[float] = []
        sat_series: list[float] = []
        upsized = 0
        for name in names:
            s = load_nab(name)
            t, v = sizing.five_minute_max(s.t, s.v, s.step_s)
            cut = t[0] + 7 * 86400
            train, test = v[t < cut] / 100 * vcpu, v[(t >= cut) & (t < cut + 7 * 86400)] / 100 * vcpu
            need, _ = sizing.required_capacity(prof, train, None)
            fits = sizing.choose(pool, need, 0.0)
            rec = fits[0] if fits else None
            net.append(1 - (rec.od_usd_hr or 0.0) / (cur.od_usd_hr or 1.0) if rec else 0.0)
            if rec is None or (rec.od_usd_hr or 0.0) > (cur.od_usd_hr or 0.0):
                rec = cur  # downsize-only: an upsizing recommendation keeps the current type
                upsized += 1
            savings.append(1 - (rec.od_usd_hr or 0.0) / (cur.od_usd_hr or 1.0))
            share = sizing.saturated_share(test, float(rec.vcpu or 0))
            sat_series.append(share)
            sat_all.extend([share] * test.size)
        rows.append(
            {
                "profile": prof_name,
                "mean_saving_pct": 100 * float(np.mean(savings)),
                "saturated_intervals_pct": 100 * float(np.mean(sat_all)),
                "series_with_any_saturation": sum(1 for x in sat_series if x > 0),
                "series": len(names),
                "upsize_recommended": upsized,
                "net_saving_pct_with_upsizing": 100 * float(np.mean(net)),
            }
        )
    return {"rows": rows, "current_type": current, "family": cur.family}


PACK_FAMILIES = ("c5", "m5", "c6i", "m6i", "r6i")


def packing_benchmark(n_pods: int = 1088, seeds: tuple[int, ...] = (1, 2, 3)) -> dict[str, Any]:
    """Seeded synthetic pods (CPU 0.1-4 cores, 0.5-8 GiB per core) onto the non-metal types of
    ``PACK_FAMILIES``; cost of each heuristic above the LP lower bound."""
    types = [
        heuristics.NodeType(it.name, float(it.vcpu or 0), float(it.memory_gib or 0), float(it.od_usd_hr or 0))
        for it in load_catalog().values()
        if it.family in PACK_FAMILIES and it.has_specs and it.od_usd_hr and "metal" not in it.name
    ]
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        cpu = rng.choice([0.1, 0.25, 0.5, 1.0, 2.0, 4.0], n_pods, p=[0.25, 0.3, 0.2, 0.15, 0.07, 0.03])
        mem = cpu * rng.choice([0.5, 1.0, 2.0, 4.0, 8.0], n_pods, p=[0.1, 0.2, 0.35, 0.25, 0.1])
        lb = heuristics.lp_lower_bound(cpu, mem, types).cost
        ffd = heuristics.cost(heuristics.pack(cpu, mem, types, "first"))
        bfd = heuristics.cost(heuristics.pack(cpu, mem, types, "best"))
        rows.append(
            {
                "seed": seed,
                "pods": n_pods,
                "types": len(types),
                "lower_bound": lb,
                "ffd_gap_pct": 100 * (ffd - lb) / lb,
                "bfd_gap_pct": 100 * (bfd - lb) / lb,
            }
        )
    return {"rows": rows}


def run_backtests(
    forecast: bool = True, anomaly: bool = True, rightsize: bool = True, pack: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, enabled, fn in (
        ("forecast", forecast, forecast_backtest),
        ("anomaly", anomaly, anomaly_backtest),
        ("rightsizing", rightsize, rightsize_backtest),
        ("packing", pack, packing_benchmark),
    ):
        if enabled:
            start = time.perf_counter()
            out[key] = fn()
            out[key]["seconds"] = round(time.perf_counter() - start, 1)
    return out


def _f(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def to_markdown(res: dict[str, Any]) -> str:
    parts: list[str] = []
    if "forecast" in res:
        f = res["forecast"]
        parts.append(
            f"### Forecasting: MASE on the last {f['horizon_hours']} h of each NAB series (hourly)\n"
        )
        parts.append(
            "| series | naive | seasonal naive | Holt-Winters | STL+ETS | selected (model) |\n|---|---|---|---|---|---|"
        )
        for r in f["rows"]:
            parts.append(
                f"| {r['series']} | {_f(r['naive'])} | {_f(r['seasonal_naive'])} | {_f(r['holt_winters'])} | "
                f"{_f(r['stl_ets'])} | {_f(r['selected'])} ({r['selected_model']}) |"
            )
        m = f["median_mase"]
        parts.append(
            f"| **median** | **{_f(m['naive'])}** | **{_f(m['seasonal_naive'])}** | **{_f(m['holt_winters'])}** | "
            f"**{_f(m['stl_ets'])}** | **{_f(m['selected'])}** |\n"
        )
        parts.append(
            f"Selected model at least as good as naive on {f['selected_beats_or_ties_naive']} series.\n"
        )
    if "anomaly" in res:
        parts.append("### Anomalies: labelled NAB windows (realAWSCloudwatch)\n")
        parts.append(
            "| detector/sensitivity | windows caught | recall | false alarms per day |\n|---|---|---|---|"
        )
        for r in res["anomaly"]["rows"]:
            parts.append(
                f"| {r['detector']} | {r['caught']}/{r['windows']} | {_f(r['recall'])} | "
                f"{_f(r['false_alarms_per_day'])} |"
            )
        parts.append("")
    if "rightsizing" in res:
        rs = res["rightsizing"]
        parts.append(
            f"### Rightsizing: {len(CPU_SERIES)} CPU traces on an {rs['current_type']}, "
            f"train week 1 / test week 2 ({rs['family']} family)\n"
        )
        parts.append(
            "| profile | mean saving (downsize only) | test intervals saturated | series with any saturation "
            "| upsizing advised | net saving incl. upsizing |\n|---|---|---|---|---|---|"
        )
        for r in rs["rows"]:
            parts.append(
                f"| {r['profile']} | {_f(r['mean_saving_pct'], 1)}% | {_f(r['saturated_intervals_pct'], 2)}% | "
                f"{r['series_with_any_saturation']}/{r['series']} | {r['upsize_recommended']}/{r['series']} | "
                f"{_f(r['net_saving_pct_with_upsizing'], 1)}% |"
            )
        parts.append("")
    if "packing" in res:
        parts.append("### Bin packing: synthetic pods vs the LP lower bound\n")
        parts.append(
            "| seed | pods | types | lower bound USD/h | first-fit gap | best-fit gap |\n|---|---|---|---|---|---|"
        )
        for r in res["packing"]["rows"]:
            parts.append(
                f"| {r['seed']} | {r['pods']} | {r['types']} | {_f(r['lower_bound'], 3)} | "
                f"{_f(r['ffd_gap_pct'])}% | {_f(r['bfd_gap_pct'])}% |"
            )
        parts.append("")
    return "\n".join(parts)


def main() -> None:
    res = run_backtests()
    print(to_markdown(res))
    print("Run times (s): " + ", ".join(f"{k} {v['seconds']}" for k, v in res.items()))


if __name__ == "__main__":
    main()
