"""detect_anomalies: ESD critical values from the literature, injected anomalies, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tests.builtins.cloud.conftest import call, error_field, series
from ucp.builtins.cloud.anomalies import detect_anomalies as anomalies
from ucp.builtins.cloud.anomalies import detectors

TOOL = anomalies.TOOL


def test_esd_critical_values_match_nist_example() -> None:
    # NIST/SEMATECH e-Handbook, generalized ESD example: n = 54, alpha = 0.05
    expected = [3.158, 3.151, 3.143, 3.136, 3.128, 3.120, 3.111, 3.103, 3.094, 3.085]
    got = [detectors.esd_critical(54, i, 0.05) for i in range(1, 11)]
    assert got == pytest.approx(expected, abs=1e-3)


def test_hybrid_esd_finds_injected_outliers_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, 500)
    x[[50, 200, 350]] = [12.0, -11.0, 15.0]
    idx, stats = detectors.hybrid_esd(x, 0.1, 0.05)
    assert sorted(idx.tolist()) == [50, 200, 350]
    assert stats.min() > 5
    pos, _ = detectors.hybrid_esd(x, 0.1, 0.05, "pos")
    assert sorted(pos.tolist()) == [50, 350]


def test_robust_z_by_hand() -> None:
    v = np.array([1.0, 2, 3, 4, 5, 20])
    det, scores = detectors.rolling_robust_z(v, 5, 3.5, "both")
    # window [1..5]: median 3, MAD 1 -> z = (20 - 3) / 1.4826
    assert scores[5] == pytest.approx(17 / 1.4826)
    assert det.index.tolist() == [5]
    assert det.expected[0] == 3.0


def test_group_windows() -> None:
    assert detectors.group_windows(np.array([1, 2, 3, 10, 12, 30]), 2) == [(1, 3), (10, 12), (30, 30)]
    assert detectors.group_windows(np.array([], dtype=np.int64), 2) == []


def _daily(days: int = 6, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = days * 288
    return 30 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 0.5, n)


@pytest.mark.parametrize("method", ["shesd", "robust_z", "both"])
def test_injected_window_is_found(method: str) -> None:
    v = _daily()
    v[1000:1012] += 25  # one hour of load 25 points above normal
    out = call(TOOL, {"series": series(list(v)), "method": method})
    hit = [
        w
        for w in out["windows"]
        if w["start"] <= series([0] * 1013)[1011]["timestamp"]
        and w["end"] >= series([0] * 1001)[1000]["timestamp"]
    ]
    assert hit, out["windows"]
    assert out["anomalies"][0]["score"] >= out["anomalies"][-1]["score"]
    assert out["points_checked"] == v.size


def test_seasonal_peaks_are_not_anomalies_for_shesd() -> None:
    out = call(TOOL, {"series": series(list(_daily())), "method": "shesd"})
    assert out["anomaly_count"] <= 3  # pure season + noise


def test_sensitivity_is_monotone() -> None:
    v = _daily(seed=9)
    v[[300, 900, 1500]] += [6, 8, 12]
    counts = [
        call(TOOL, {"series": series(list(v)), "method": "both", "sensitivity": s})["anomaly_count"]
        for s in ("low", "medium", "high")
    ]
    assert counts[0] <= counts[1] <= counts[2]
    assert counts[0] >= 1


def test_short_series_warns_no_season() -> None:
    out = call(TOOL, {"series": series([1.0] * 30 + [9.0] + [1.0] * 30)})
    assert any("seasons" in w for w in out["warnings"])


def test_bad_inputs() -> None:
    assert error_field(TOOL, {"series": series([1.0] * 11)}) == "series"
    assert error_field(TOOL, {"series": series([1.0] * 20), "sensitivity": "extreme"}) == "sensitivity"
