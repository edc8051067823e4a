"""The shipped NAB series (``ucp/bench/cloud/data/nab``) and the dev / held-out split.

Every tuning decision of the cloud tools (a candidate model, a detector default, a
threshold) is made on ``DEV`` and reported on ``HELD_OUT`` as well, so a figure that only
holds on the series it was tuned on shows up as a gap between the two columns. The split is
stratified by metric kind (EC2 CPU, disk, network, requests, RDS CPU), fixed, and was made
before any figure was looked at. Two NAB series repeat timestamps at a DST change; the
loader sorts them and keeps the first value of each timestamp (the tools themselves reject
such input).
"""

from __future__ import annotations

import gzip
import io
import json
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ucp.builtins.cloud.common.series import Series

DEV = (
    "ec2_cpu_utilization_24ae8d",
    "ec2_cpu_utilization_5f5533",
    "ec2_cpu_utilization_825cc2",
    "ec2_cpu_utilization_c6585a",
    "ec2_disk_write_bytes_1ef3de",
    "ec2_network_in_257a54",
    "elb_request_count_8c0756",
    "grok_asg_anomaly",
    "rds_cpu_utilization_cc0c53",
)
HELD_OUT = (
    "ec2_cpu_utilization_53ea38",
    "ec2_cpu_utilization_77c1ca",
    "ec2_cpu_utilization_ac20cd",
    "ec2_cpu_utilization_fe7f93",
    "ec2_disk_write_bytes_c0d644",
    "ec2_network_in_5abac7",
    "iio_us-east-1_i-a2eb1cd9_NetworkIn",
    "rds_cpu_utilization_e47b3b",
)
SPLITS = {"dev": DEV, "held_out": HELD_OUT}


def nab_dir() -> Any:
    return resources.files("ucp.bench.cloud").joinpath("data", "nab")


def nab_names() -> list[str]:
    return sorted(p.name[: -len(".csv.gz")] for p in nab_dir().iterdir() if p.name.endswith(".csv.gz"))


def split_of(name: str) -> str:
    return "dev" if name in DEV else "held_out"


def load_nab(name: str) -> Series:
    """A shipped NAB series as a validated ``Series`` (sorted, first of duplicate timestamps kept)."""
    raw = gzip.decompress(nab_dir().joinpath(f"{name}.csv.gz").read_bytes()).decode()
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
    data = json.loads(nab_dir().joinpath("combined_windows.json").read_text())
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
