"""Rightsizing backtest: the tool as shipped, sized on week 1 of each NAB CPU trace, scored on week 2.

Each of the 10 CPU-utilisation traces (8 EC2 + 2 RDS) is assumed to run on an m5.2xlarge
(8 vCPU). ``rightsize_vm`` gets week 1 (no memory series: NAB has none, so the tool sizes by
CPU across c5/m5/r5 and says memory was not checked); week 2's demand is then replayed on
its recommendation. "Downsize only" keeps the current type when the tool asks for a bigger
one. The warning columns check the tool's own signals against what happened: how often it
warned that its internal backtest saturates, and how many traces that then saturated in
week 2 it had warned about. A memory series is needed before acting on any of these
savings: the recommended c5 types have a quarter of the m5's memory per vCPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ucp.bench.cloud import nab
from ucp.builtins.cloud.common.instances import get_type
from ucp.builtins.cloud.common.series import iso
from ucp.builtins.cloud.rightsizing import rightsize_vm, sizing

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
PROFILES = ("aws-default", "vpa-like", "azure-user-facing", "azure-batch")
CURRENT = "m5.2xlarge"


def _weeks(name: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    s = nab.load_nab(name)
    t, v = sizing.five_minute_max(s.t, s.v, s.step_s)
    cut = t[0] + 7 * 86400
    train = [
        {"timestamp": iso(float(a)), "value": float(b)} for a, b in zip(t[t < cut], v[t < cut], strict=True)
    ]
    test = v[(t >= cut) & (t < cut + 7 * 86400)]
    return train, test


def rightsize_backtest(
    names: tuple[str, ...] = CPU_SERIES, profiles: tuple[str, ...] = PROFILES
) -> dict[str, Any]:
    cur = get_type(CURRENT, "current")
    vcpu = float(cur.vcpu or 0)
    weeks = {name: _weeks(name) for name in names}
    rows = []
    for prof in profiles:
        for split in ("dev", "held_out", "all"):
            sel = [n for n in names if split == "all" or nab.split_of(n) == split]
            if not sel:
                continue
            savings, sat, warned, sat_series, warned_sat, idle, downsized = [], [], 0, 0, 0, 0, 0
            for name in sel:
                train, test = weeks[name]
                out = rightsize_vm.rightsize_vm(
                    rightsize_vm.RightsizeInput.model_validate(
                        {"current_instance_type": CURRENT, "cpu": train, "profile": prof, "lookback_days": 7}
                    )
                )
                rec = get_type(out.recommended.instance_type, "rec") if out.recommended else cur
                if (rec.od_usd_hr or 0.0) > (cur.od_usd_hr or 0.0):
                    rec = cur
                downsized += rec.name != cur.name
                savings.append(1 - (rec.od_usd_hr or 0.0) / (cur.od_usd_hr or 1.0))
                share = sizing.saturated_share(test / 100 * vcpu, float(rec.vcpu or 0))
                sat.append(share)
                did_warn = any("own backtest" in w for w in out.warnings)
                warned += did_warn
                sat_series += share > 0.01
                warned_sat += share > 0.01 and did_warn
                idle += out.finding == "idle"
            rows.append(
                {
                    "profile": prof,
                    "split": split,
                    "series": len(sel),
                    "downsized": downsized,
                    "mean_saving_pct": 100 * float(np.mean(savings)),
                    "saturated_intervals_pct": 100 * float(np.mean(sat)),
                    "series_saturated": sat_series,
                    "saturation_warnings": warned,
                    "saturated_and_warned": warned_sat,
                    "idle": idle,
                }
            )
    return {"rows": rows, "current_type": CURRENT}
