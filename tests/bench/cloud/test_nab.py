"""The shipped NAB data, its labels and the fixed dev / held-out split."""

from __future__ import annotations

import numpy as np
import pytest

from ucp.bench.cloud import nab
from ucp.builtins.base import ToolInputError
from ucp.builtins.cloud.common.series import CsvSeries, load_series


def test_shipped_nab_data_and_labels() -> None:
    names = nab.nab_names()
    assert len(names) == 17
    labels = nab.labelled_windows()
    assert sum(len(labels[n]) for n in names) == 30
    s = nab.load_nab("ec2_cpu_utilization_5f5533")
    assert len(s) == 4032
    assert s.step_s == 300


def test_split_is_disjoint_and_complete() -> None:
    assert not set(nab.DEV) & set(nab.HELD_OUT)
    assert sorted((*nab.DEV, *nab.HELD_OUT)) == nab.nab_names()
    assert nab.split_of(nab.DEV[0]) == "dev" and nab.split_of(nab.HELD_OUT[0]) == "held_out"


def test_nab_dst_duplicates_are_rejected_by_the_tools() -> None:
    s = nab.load_nab("ec2_network_in_5abac7")  # the harness dedupes...
    assert np.all(np.diff(s.t) > 0)
    path = nab.nab_dir().joinpath("ec2_network_in_5abac7.csv.gz")
    with pytest.raises(ToolInputError) as exc:  # ...the tools refuse the raw file and name it
        load_series(CsvSeries(csv_path=str(path)), "series")
    assert exc.value.field == "series.csv_path"
    assert "line 2120" in exc.value.problem
