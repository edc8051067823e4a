"""Backtests of the cloud tools on the shipped NAB series (``python -m ucp.bench.cloud.backtest``).

1. Forecasting (``forecasting.py``): rolling origins, the tool's per-series selection scored
   out of sample at each, statsforecast's AutoETS and AutoTheta side by side.
2. Anomalies (``anomalies.py``): the 30 labelled NAB windows; recall, recall expected by
   chance and false alarms per day.
3. Rightsizing (``rightsizing.py``): the tool on week 1 of each CPU trace (as an
   m5.2xlarge), week 2 replayed on its recommendation; saving vs saturation.
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
from ucp.bench.cloud.rightsizing import rightsize_backtest
from ucp.builtins.cloud.common.instances import load_catalog
from ucp.builtins.cloud.packing import heuristics

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
            f"### Rightsizing from CPU alone: 10 NAB CPU traces as an {rs['current_type']}, the tool on week 1, "
            "week 2 replayed (c5/m5/r5 searched; memory not observed)\n"
        )
        parts.append(
            "| profile | split | downsized | mean saving | test intervals saturated | traces saturated (>1%) "
            "| of which warned | saturation warnings | idle |\n|---|---|---|---|---|---|---|---|---|"
        )
        for r in rs["rows"]:
            parts.append(
                f"| {r['profile']} | {r['split']} | {r['downsized']}/{r['series']} | {_f(r['mean_saving_pct'], 1)}% | "
                f"{_f(r['saturated_intervals_pct'], 2)}% | {r['series_saturated']}/{r['series']} | "
                f"{r['saturated_and_warned']}/{r['series_saturated']} | {r['saturation_warnings']} | {r['idle']} |"
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
