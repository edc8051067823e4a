"""Anomaly backtest on the labelled NAB windows, with recall adjusted for chance.

A window is caught when a flagged point falls inside it; a false alarm is a reported window
(flagged points within an hour merged, as the tool reports them) that touches no labelled
window; per day of data. NAB's windows are wide (about 10% of a series), so a detector that
flags many points catches windows by volume alone. Chance recall is the recall of the same
flags shifted, as one block, by a random circular offset (``DRAWS`` seeded draws per series:
same count, same clustering, random position); chance-adjusted recall is
``recall - chance``: 0 for flags no better than their volume, and it cannot be raised by
flagging more. (The kappa-style ``(recall - chance) / (1 - chance)`` was tried and dropped:
it is 1 for any detector that catches every window, however many points it flags.) The tool's
default detector and sensitivity are the configuration with the highest chance-adjusted
recall on the dev series (``nab.DEV``), where configurations within one window's worth of
recall (1 / windows) of the best are ties broken by fewer false alarms per day; held-out
figures are reported, not tuned on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ucp.bench.cloud import nab
from ucp.builtins.cloud.anomalies import detect_anomalies, detectors

DRAWS = 200
CONFIGS = (
    ("shesd", "low"),
    ("shesd", "medium"),
    ("shesd", "high"),
    ("robust_z", "low"),
    ("robust_z", "medium"),
    ("robust_z", "high"),
    ("both", "low"),
    ("both", "medium"),
)


@dataclass
class Tally:
    windows: int = 0
    caught: int = 0
    chance: float = 0.0
    false_alarms: int = 0
    flagged: int = 0
    points: int = 0
    days: float = 0.0

    def row(self, detector: str, split: str) -> dict[str, Any]:
        recall = self.caught / self.windows if self.windows else None
        chance = self.chance / self.windows if self.windows else None
        adjusted = None if recall is None or chance is None else recall - chance
        return {
            "detector": detector,
            "split": split,
            "caught": self.caught,
            "windows": self.windows,
            "recall": recall,
            "chance_recall": chance,
            "adjusted_recall": adjusted,
            "false_alarms_per_day": self.false_alarms / self.days if self.days else None,
            "flagged_share": self.flagged / self.points if self.points else None,
        }


def _caught(times: np.ndarray, wins: list[tuple[float, float]]) -> int:
    return sum(1 for a, b in wins if np.any((times >= a) & (times <= b)))


def anomaly_backtest(
    names: list[str] | None = None, configs: tuple[tuple[str, str], ...] = CONFIGS
) -> dict[str, Any]:
    labels = nab.labelled_windows()
    tallies: dict[tuple[str, str], Tally] = {}
    for name in names or nab.nab_names():
        s = nab.load_nab(name)
        split = nab.split_of(name)
        wins = labels.get(name, [])
        period, window, gap = detect_anomalies.defaults(s.step_s)
        rng = np.random.default_rng(len(s))  # seeded per series: reruns give the same figures
        offsets = rng.integers(1, len(s), DRAWS)
        for method, sens in configs:
            found = detect_anomalies.run_detectors(
                s, method, detect_anomalies.SENSITIVITY[sens], "both", period, window, []
            )
            pos = np.asarray(sorted(found), dtype=np.int64)
            for key in ((f"{method}/{sens}", split), (f"{method}/{sens}", "all")):
                t = tallies.setdefault(key, Tally())
                t.windows += len(wins)
                t.points += len(s)
                t.flagged += int(pos.size)
                t.days += s.span_s / 86400
                t.caught += _caught(s.t[pos] if pos.size else np.empty(0), wins)
                if pos.size and wins:
                    t.chance += float(np.mean([_caught(s.t[(pos + o) % len(s)], wins) for o in offsets]))
                for a, b in detectors.group_windows(pos, gap):
                    if not any(s.t[a] <= wb and s.t[b] >= wa for wa, wb in wins):
                        t.false_alarms += 1
    rows = [t.row(det, split) for (det, split), t in tallies.items()]
    return {"rows": rows, "best_on_dev": choose_default(rows), "draws": DRAWS}


def choose_default(rows: list[dict[str, Any]]) -> str | None:
    """The dev configuration with the best chance-adjusted recall; within one window of it, the
    one with the fewest false alarms per day."""
    dev = [r for r in rows if r["split"] == "dev" and r["adjusted_recall"] is not None]
    if not dev:
        return None
    top = max(r["adjusted_recall"] for r in dev)
    tie = 1 / max(r["windows"] for r in dev)
    near = [r for r in dev if r["adjusted_recall"] >= top - tie - 1e-12]
    best: str = min(near, key=lambda r: (r["false_alarms_per_day"], -r["adjusted_recall"]))["detector"]
    return best
