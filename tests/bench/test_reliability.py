"""The reliability benchmark runs end to end on a tiny load and prints its three tables."""

from __future__ import annotations

import anyio
import pytest

from ucp.bench.reliability import bad_input, main_async


def test_bad_input_never_crashes() -> None:
    rows = bad_input(60, seed=1)
    assert [r[4] for r in rows] == ["0"] * len(rows)  # the "crashed" column
    assert rows[-1][3] == "1"  # the billion laughs was refused


@pytest.mark.integration
def test_the_benchmark_prints_its_tables() -> None:
    out = anyio.run(main_async, 2, 5, 20)
    assert "Load held" in out and "Faults survived" in out and "Bad input" in out
    assert "passed through (!)" not in out and "loaded (!)" not in out
