"""Time-series input shared by the tools: inline points or a CSV path, validated.

A series arrives either inline, ``[{"timestamp": ISO 8601, "value": float}, ...]``, or
as ``{"csv_path": ...}`` naming a CSV (or ``.csv.gz``) file with ``timestamp,value``
columns (the NAB format). Live adapters produce the inline form. Validation names the
field and the first bad index; gaps are reported, never filled silently.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field

from ucp.builtins.base import ToolInputError
from ucp.builtins.cloud.common.envelope import StrictInput

MAX_POINTS = 1_000_000
MAX_ABS_VALUE = 1e15  # beyond this, sums and squares risk overflow
GAP_FACTOR = 1.5  # a step longer than 1.5x the median step is a gap


class Point(StrictInput):
    timestamp: datetime = Field(description="ISO 8601; no offset means UTC.")
    value: float


class CsvSeries(StrictInput):
    csv_path: str = Field(description="Path of a .csv or .csv.gz file with a header row.")
    timestamp_column: str = "timestamp"
    value_column: str = "value"


SeriesInput = Annotated[
    list[Point] | CsvSeries,
    Field(description='Inline [{"timestamp","value"},...] in time order, or {"csv_path": ...}.'),
]


@dataclass(frozen=True)
class Series:
    """A validated series: strictly increasing epoch seconds and finite values."""

    t: np.ndarray  # float64 epoch seconds (UTC)
    v: np.ndarray  # float64 values
    field: str
    step_s: float  # median spacing in seconds
    gaps: list[tuple[float, float]] = dc_field(default_factory=list)  # (before, after) epoch seconds
    naive_timestamps: bool = False

    def __len__(self) -> int:
        return int(self.t.size)

    @property
    def span_s(self) -> float:
        return float(self.t[-1] - self.t[0])

    def start(self) -> datetime:
        return to_datetime(float(self.t[0]))

    def end(self) -> datetime:
        return to_datetime(float(self.t[-1]))

    def notes(self) -> tuple[list[str], list[str]]:
        """(assumptions, warnings) describing the series."""
        assumptions: list[str] = []
        warnings: list[str] = []
        if self.naive_timestamps:
            assumptions.append(f"{self.field}: timestamps without an offset were read as UTC.")
        if self.gaps:
            before, after = max(self.gaps, key=lambda g: g[1] - g[0])
            warnings.append(
                f"{self.field}: {len(self.gaps)} gap(s) longer than {GAP_FACTOR}x the median step of "
                f"{fmt_duration(self.step_s)}; the longest runs from {iso(before)} to {iso(after)}. "
                "Gaps were not filled with invented values."
            )
        return assumptions, warnings


def to_datetime(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


def iso(epoch_s: float) -> str:
    return to_datetime(epoch_s).isoformat().replace("+00:00", "Z")


def fmt_duration(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)} d"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def _epoch(ts: datetime) -> tuple[float, bool]:
    if ts.tzinfo is None:
        return ts.replace(tzinfo=UTC).timestamp(), True
    return ts.timestamp(), False


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8", newline="")


def _csv_rows(src: CsvSeries, fld: str) -> Iterator[tuple[int, datetime, float]]:
    path = Path(src.csv_path).expanduser()
    if not (path.name.endswith(".csv") or path.name.endswith(".csv.gz")):
        raise ToolInputError(fld, f"expected a .csv or .csv.gz file, got {src.csv_path!r}")
    if not path.is_file():
        raise ToolInputError(fld, f"no such file: {str(path)!r}")
    with _open_text(path) as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        for col in (src.timestamp_column, src.value_column):
            if col not in cols:
                raise ToolInputError(fld, f"no column {col!r} in {path.name} (columns: {', '.join(cols)})")
        for row_no, row in enumerate(reader, start=2):
            raw_t, raw_v = row[src.timestamp_column], row[src.value_column]
            try:
                ts = datetime.fromisoformat((raw_t or "").strip())
            except ValueError:
                raise ToolInputError(fld, f"line {row_no}: cannot parse timestamp {raw_t!r}") from None
            try:
                val = float((raw_v or "").strip())
            except ValueError:
                raise ToolInputError(fld, f"line {row_no}: value {raw_v!r} is not a number") from None
            if not math.isfinite(val):
                raise ToolInputError(fld, f"line {row_no}: value is {raw_v.strip()} (NaN/inf not allowed)")
            yield row_no, ts, val


def load_series(data: list[Point] | CsvSeries, fld: str, min_points: int = 3) -> Series:
    """Validate and convert a series; raise ``ToolInputError`` naming ``fld`` on bad input."""
    t_list: list[float] = []
    v_list: list[float] = []
    labels: list[str] = []
    naive = False
    if isinstance(data, CsvSeries):
        for row_no, ts, val in _csv_rows(data, f"{fld}.csv_path"):
            e, n = _epoch(ts)
            naive |= n
            t_list.append(e)
            v_list.append(val)
            labels.append(f"{fld}.csv_path (line {row_no})")
            if len(t_list) > MAX_POINTS:
                raise ToolInputError(f"{fld}.csv_path", f"more than {MAX_POINTS} rows; aggregate first")
    else:
        if len(data) > MAX_POINTS:
            raise ToolInputError(fld, f"more than {MAX_POINTS} points; aggregate first")
        for i, p in enumerate(data):
            if not math.isfinite(p.value):
                raise ToolInputError(f"{fld}[{i}].value", "must be a finite number (no NaN/inf)")
            e, n = _epoch(p.timestamp)
            naive |= n
            t_list.append(e)
            v_list.append(p.value)
            labels.append(f"{fld}[{i}].timestamp")
    if len(t_list) < min_points:
        raise ToolInputError(fld, f"needs at least {min_points} points, got {len(t_list)}")
    t = np.asarray(t_list, dtype=np.float64)
    v = np.asarray(v_list, dtype=np.float64)
    big = np.flatnonzero(np.abs(v) > MAX_ABS_VALUE)
    if big.size:
        i = int(big[0])
        where = f"{fld}[{i}].value" if not isinstance(data, CsvSeries) else f"{fld}.csv_path"
        raise ToolInputError(where, f"value {v[i]:g} is beyond +/-{MAX_ABS_VALUE:g}; rescale the unit")
    d = np.diff(t)
    bad = np.flatnonzero(d <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        kind = "duplicates" if d[i - 1] == 0 else "is earlier than"
        raise ToolInputError(
            labels[i] if not isinstance(data, CsvSeries) else f"{fld}.csv_path",
            f"timestamps must strictly increase: point {i} ({iso(t[i])}) {kind} point {i - 1}"
            + (f" [{labels[i]}]" if isinstance(data, CsvSeries) else ""),
        )
    step = float(np.median(d))
    gap_idx = np.flatnonzero(d > GAP_FACTOR * step)
    gaps = [(float(t[j]), float(t[j + 1])) for j in gap_idx]
    return Series(t=t, v=v, field=fld, step_s=step, gaps=gaps, naive_timestamps=naive)


def regular_grid(s: Series, step_s: float, how: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Aggregate onto a regular grid of ``step_s`` seconds aligned to the first sample.

    Returns ``(grid_start_epochs, values)`` where empty bins are NaN: the caller decides
    (and says) what to do with them.
    """
    idx = np.floor((s.t - s.t[0]) / step_s).astype(np.int64)
    n = int(idx[-1]) + 1
    out = np.full(n, np.nan)
    if how == "max":
        np.fmax.at(out, idx, s.v)
    else:
        sums = np.bincount(idx, weights=s.v, minlength=n)
        counts = np.bincount(idx, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    grid = s.t[0] + step_s * np.arange(n, dtype=np.float64)
    return grid, out


def fill_linear(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Linearly interpolate NaN bins between observed ones; returns (filled, count)."""
    nan = np.isnan(values)
    k = int(nan.sum())
    if k == 0:
        return values, 0
    x = np.arange(values.size)
    filled = values.copy()
    filled[nan] = np.interp(x[nan], x[~nan], values[~nan])
    return filled, k
