"""The scale benchmark's arithmetic, on made-up call timings: throughput, percentiles, the calls in
flight at the kill, and the time until throughput is back."""

from __future__ import annotations

from ucp.bench.scale import _kill_summary, _summary


def test_summary_counts_failures_and_rates_successes() -> None:
    calls = [(0.0, 0.010, True), (0.0, 0.020, True), (0.1, 0.130, False), (0.2, 0.240, True)]
    s = _summary({"calls": calls, "seconds": 1.0})
    assert s["calls"] == 4 and s["failed"] == 1 and s["calls_per_s"] == 3.0
    assert s["p50_ms"] == 20.0


def test_kill_summary_finds_the_calls_in_flight_and_the_recovery() -> None:
    calls = []
    t = 0.0
    while t < 10.0:  # 10 calls/s before the kill at t=3, a 1 s gap, then 10 calls/s again
        if not 3.0 <= t < 4.0:
            calls.append((t, t + 0.05, True))
        t = round(t + 0.1, 2)
    calls.append((2.99, 3.2, False))  # in flight on the killed replica
    k = _kill_summary({"calls": calls, "t0": 0.0, "seconds": 10.0, "killed_at": 3.0})
    assert k["failed"] == 1 and k["failed_after_kill_started"] == 0
    assert k["in_flight_at_kill"] == 1
    assert k["calls_per_s_before"] == 10.0
    assert k["back_to_90pct_s"] is not None and 1.0 <= k["back_to_90pct_s"] <= 2.0
