"""Backtests of the cloud tools on the shipped NAB series (``python -m ucp.bench.cloud.backtest``).

1. Forecasting (``forecasting.py``): rolling origins, the tool's per-series selection scored
   out of sample at each, statsforecast's AutoETS and AutoTheta side by side.
2. Anomalies (``anomalies.py``): the 30 labelled NAB windows; recall, recall expected by
   chance and false alarms per day.
3. Rightsizing: each CPU trace assumed to run on an m5.2xlarge; train on the first
   week, test on the next; saving vs the share of test intervals that saturate.
4. Bin packing (synthetic, seeded: no real pod requests are shipped): first/best-fit
   decreasing against the LP lower bound.

Every figure is reported separately for the dev series (tuned on) and the held-out ones
(``nab.py``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ucp.bench.cloud.anomalies import anomaly_backtest
from ucp.bench.cloud.forecasting import COLUMNS, forecast_backtest
from ucp.bench.cloud.nab import load_nab
from ucp.builtins.cloud.common.catalog import get_type, load_catalog
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
RIGHTSIZE_PROFILES = ("aws-default", "vpa-like", "azure-user-facing", "azure-batch", "p95-no-headroom")


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
        names = {
            "naive": "naive",
            "seasonal_naive": "seasonal naive",
            "holt_winters": "Holt-Winters",
            "stl_ets": "STL+ETS",
            "theta": "Theta",
            "selected": "**UCP selected**",
            "autoets": "AutoETS (statsforecast)",
            "autotheta": "AutoTheta (statsforecast)",
        }
        parts.append(
            f"### Forecasting: median MASE, {f['origins']} rolling origins x {f['horizon_hours']} h per series "
            f"(hourly; selection by {f['folds']} earlier origins)\n"
        )
        splits = [k for k in ("dev", "held_out", "all") if k in f["median_mase"]]
        head = " | ".join(f"{k} ({f['median_mase'][k]['series']} series)" for k in splits)
        parts.append(f"| model | {head} |\n|---|" + "---|" * len(splits))
        for c in COLUMNS:
            cells = " | ".join(_f(f["median_mase"][k][c]) for k in splits)
            parts.append(f"| {names[c]} | {cells} |")
        beats = ", ".join(
            f"{k} {f['median_mase'][k]['selected_beats_or_ties_holt_winters']}/{f['median_mase'][k]['series']}"
            for k in splits
        )
        cover = ", ".join(f"{k} {_f(f['median_mase'][k]['selected_coverage'])}" for k in splits)
        parts.append(
            f"\nSelected at least as good as always-Holt-Winters on: {beats} series. "
            f"90% interval coverage of the selected model: {cover}."
            + ("" if f["peers_available"] else " statsforecast is not installed: peers n/a.")
            + "\n"
        )
        parts.append(
            "| series | split | origins | naive | HW | Theta | selected (models) | AutoETS | AutoTheta |"
        )
        parts.append("|---|---|---|---|---|---|---|---|---|")
        for r in f["rows"]:
            models = ",".join(sorted(set(r["selected_models"])))
            parts.append(
                f"| {r['series']} | {r['split']} | {r['origins']} | {_f(r['naive'])} | {_f(r['holt_winters'])} | "
                f"{_f(r['theta'])} | {_f(r['selected'])} ({models}) | {_f(r['autoets'])} | {_f(r['autotheta'])} |"
            )
        parts.append("")
    if "anomaly" in res:
        an = res["anomaly"]
        parts.append("### Anomalies: labelled NAB windows (realAWSCloudwatch), recall against chance\n")
        parts.append(
            "| detector/sensitivity | split | windows caught | recall | chance recall | recall above chance "
            "| false alarms per day | points flagged |\n|---|---|---|---|---|---|---|---|"
        )
        for r in sorted(an["rows"], key=lambda r: (r["split"] != "dev", r["split"], r["detector"])):
            mark = " (default)" if r["detector"] == an["best_on_dev"] else ""
            parts.append(
                f"| {r['detector']}{mark} | {r['split']} | {r['caught']}/{r['windows']} | {_f(r['recall'])} | "
                f"{_f(r['chance_recall'])} | {_f(r['adjusted_recall'])} | {_f(r['false_alarms_per_day'])} | "
                f"{_f(100 * r['flagged_share'], 1)}% |"
            )
        parts.append(
            f"\nChosen on dev: {an['best_on_dev']} (chance: {an['draws']} random circular shifts).\n"
        )
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
