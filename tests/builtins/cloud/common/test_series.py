"""Series validation: every bad input names its field; gaps are reported, not filled."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from tests.builtins.cloud.conftest import error_field, series
from ucp.builtins.base import ToolInputError
from ucp.builtins.cloud.common.series import CsvSeries, Point, fill_linear, load_series, regular_grid
from ucp.builtins.cloud.forecasting import forecast_usage as forecast

TOOL = forecast.TOOL


def test_empty_series_names_field() -> None:
    assert error_field(TOOL, {"series": []}) == "series"


def test_one_point_series_names_field() -> None:
    assert error_field(TOOL, {"series": series([1.0])}) == "series"


def test_duplicate_timestamp_names_index() -> None:
    pts = series([1, 2, 3, 4])
    pts[2]["timestamp"] = pts[1]["timestamp"]
    assert error_field(TOOL, {"series": pts}) == "series[2].timestamp"


def test_out_of_order_names_index() -> None:
    pts = series([1, 2, 3, 4, 5])
    pts[3], pts[4] = pts[4], pts[3]
    assert error_field(TOOL, {"series": pts}) == "series[4].timestamp"


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_and_inf_are_rejected_by_schema(bad: float) -> None:
    pts = series([1, 2, 3, 4])
    pts[1]["value"] = bad
    assert error_field(TOOL, {"series": pts}) == "series.list[Point][1].value"


def test_unknown_field_is_rejected() -> None:
    assert error_field(TOOL, {"series": series([1, 2, 3]), "horizn": 3}) == "horizn"


def test_missing_csv_path(tmp_path: Path) -> None:
    assert error_field(TOOL, {"series": {"csv_path": str(tmp_path / "nope.csv")}}) == "series.csv_path"


def test_csv_wrong_suffix(tmp_path: Path) -> None:
    p = tmp_path / "x.txt"
    p.write_text("timestamp,value\n")
    assert error_field(TOOL, {"series": {"csv_path": str(p)}}) == "series.csv_path"


def test_csv_nan_and_order(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("timestamp,value\n2026-01-01 00:00:00,1\n2026-01-01 00:05:00,nan\n")
    with pytest.raises(ToolInputError) as exc:
        load_series(CsvSeries(csv_path=str(p)), "series")
    assert exc.value.field == "series.csv_path"
    assert "line 3" in exc.value.problem
    p.write_text("timestamp,value\n2026-01-01 00:05:00,1\n2026-01-01 00:00:00,2\n2026-01-01 00:10:00,2\n")
    with pytest.raises(ToolInputError) as exc:
        load_series(CsvSeries(csv_path=str(p)), "series")
    assert exc.value.field == "series.csv_path"


def test_csv_missing_column(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("time,value\n2026-01-01 00:00:00,1\n")
    with pytest.raises(ToolInputError) as exc:
        load_series(CsvSeries(csv_path=str(p)), "series")
    assert exc.value.field == "series.csv_path"


def test_gzip_csv_matches_plain(tmp_path: Path) -> None:
    text = "timestamp,value\n2026-01-01 00:00:00,1.5\n2026-01-01 00:05:00,2.5\n2026-01-01 00:10:00,3\n"
    (tmp_path / "a.csv").write_text(text)
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(text.encode()))
    a = load_series(CsvSeries(csv_path=str(tmp_path / "a.csv")), "s")
    b = load_series(CsvSeries(csv_path=str(tmp_path / "b.csv.gz")), "s")
    assert np.array_equal(a.t, b.t)
    assert list(b.v) == [1.5, 2.5, 3.0]
    assert b.naive_timestamps


def test_gaps_are_reported_not_filled() -> None:
    pts = series(list(range(10)))
    del pts[4:7]  # a 20-minute hole in 5-minute data
    s = load_series([Point.model_validate(p) for p in pts], "series")
    assert len(s) == 7
    assert len(s.gaps) == 1
    _, warns = s.notes()
    assert any("gap" in w for w in warns)


def test_regular_grid_keeps_empty_bins_nan_then_fill_linear() -> None:
    pts = [Point.model_validate(p) for p in series([0, 10, 20, 30], step_min=60)]
    s = load_series([pts[0], pts[1], pts[3]], "s")  # hour 2 missing
    grid, vals = regular_grid(s, 3600)
    assert grid.size == 4
    assert np.isnan(vals[2])
    filled, n = fill_linear(vals)
    assert n == 1
    assert filled[2] == pytest.approx(20.0)
