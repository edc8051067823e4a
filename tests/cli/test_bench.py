"""`ucp bench ...` commands: wiring, output shape, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli

SLICE = Path(__file__).resolve().parents[1] / "bench" / "data" / "metatool_slice"


def test_tokens_on_a_data_set(cli: Cli) -> None:
    result = cli("bench", "tokens", "--tools", str(SLICE / "tools.jsonl"), "--count", "200", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tools"] == 200
    assert data["tokens"]["search"] < data["tokens"]["dynamic"] < data["tokens"]["full"]
    assert data["share_of_full"]["search"] < 0.1


def test_online_rejects_a_bad_dataset_spec(cli: Cli) -> None:
    bad = cli("bench", "online", "--dataset", "nonsense")
    assert bad.exit_code == 2
    missing = cli("bench", "online", "--dataset", "x=/no/such/tools.jsonl:/no/such/queries.jsonl")
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr


def test_retrieval_rejects_a_malformed_file(cli: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "tools.jsonl"
    broken.write_text('{"id": "a", "name": "a"}\nnot json\n')
    result = cli("bench", "retrieval", "--tools", str(broken), "--queries", str(SLICE / "queries.jsonl"))
    assert result.exit_code == 2
    assert "tools.jsonl:2" in result.stderr


@pytest.mark.integration
def test_retrieval_on_the_slice_with_the_real_model(cli: Cli) -> None:
    result = cli(
        "bench",
        "retrieval",
        "--tools",
        str(SLICE / "tools.jsonl"),
        "--queries",
        str(SLICE / "queries.jsonl"),
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    for mode in ("bm25", "dense", "hybrid"):
        assert set(data[mode]) >= {"recall@1", "recall@5", "recall@10", "ndcg@10", "mrr"}
    assert data["latency_ms"]["p50"] > 0


def _proxy_bench(home: Path, *args: str, timeout: float = 300) -> dict[str, Any]:
    """``ucp bench proxy ARGS --json`` as a user runs it; its JSON."""
    import subprocess

    from tests.helpers import venv_bin

    proc = subprocess.run(
        [venv_bin("ucp"), "bench", "proxy", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "UCP_HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


@pytest.mark.integration
def test_proxy_bench_runs_small(tmp_path: Path) -> None:
    data = _proxy_bench(tmp_path, "--calls", "5", "--rounds", "1", "--part", "stdio")
    assert {"direct", "ucp"} <= set(data["stdio"])
    assert data["stdio"]["ucp"]["n"] == 5


@pytest.mark.integration
def test_proxy_bench_throughput_runs_small(tmp_path: Path) -> None:
    rows = _proxy_bench(tmp_path, "--part", "throughput", "--sessions", "2", "--seconds", "1")["throughput"][
        "rows"
    ]
    assert {"direct", "ucp (http echo)", "ucp (stdio echo)", "ucp --workers 2 (stdio echo)"} <= set(rows)
    assert all(cells["2"]["calls_per_s"] > 0 for cells in rows.values())
    # what each call costs the client and the downstream, hence what the machine could carry at most
    assert all(cells["2"]["cpu_ms_per_call_client"] > 0 for cells in rows.values())
    assert rows["direct"]["2"]["cpu_ms_per_call_downstream"] == 0  # the echo server is the measured process
    assert rows["ucp (stdio echo)"]["2"]["cpu_ms_per_call_downstream"] > 0  # UCP's own child, found
    assert rows["ucp (http echo)"]["2"]["cpu_ms_per_call_downstream"] > 0
    for cells in rows.values():
        m = cells["2"]
        total = m["cpu_ms_per_call"] + m["cpu_ms_per_call_client"] + m["cpu_ms_per_call_downstream"]
        assert m["ceiling_calls_per_s"] == pytest.approx((os.cpu_count() or 1) * 1000 / total)


@pytest.mark.integration
def test_proxy_bench_scaling_runs_small(tmp_path: Path) -> None:
    args = ("--part", "scaling", "--sessions", "2", "--seconds", "1")
    scaling = _proxy_bench(tmp_path, *args, timeout=600)["scaling"]
    assert set(scaling["rows"]) == {"ucp", "ucp, 1 encoder thread", "ucp --workers 2"}
    assert all(cells["2"]["calls_per_s"] > 0 for cells in scaling["rows"].values())
    assert len(scaling["rss_mb"]["ucp --workers 2"]) == 3  # the pool process and its two workers
    assert len(scaling["rows"]["ucp --workers 2"]["2"]["cpu_ms_per_call_by_process"]) == 3


def test_throughput_table_shows_ratios_and_rss() -> None:
    from ucp.cli.bench import _proxy_tables

    cell = {"calls_per_s": 100.0, "p50_ms": 10.0, "p99_ms": 20.0, "n": 400.0}
    result = {
        "throughput": {
            "sessions": [8],
            "seconds": 4.0,
            "rows": {"direct": {"8": cell}, "ucp": {"8": {**cell, "calls_per_s": 50.0}}},
            "rss_mb": {"direct": [70.0], "ucp": [120.0, 115.0]},
        }
    }
    table = _proxy_tables(result)[0]
    cells = [list(col.cells) for col in table.columns]
    assert cells[1][1].startswith("50 (0.50x)")
    assert cells[2][1] == "120 + 115"


def test_cpu_and_scaling_tables_show_the_ceiling_and_the_gain_per_worker() -> None:
    from ucp.cli.bench import _proxy_tables

    cell = {
        "calls_per_s": 100.0, "p50_ms": 10.0, "p99_ms": 20.0, "n": 400.0, "cpu_ms_per_call": 4.0,
        "cpu_ms_per_call_by_process": [4.0], "cpu_ms_per_call_client": 3.0,
        "cpu_ms_per_call_downstream": 1.0, "ceiling_calls_per_s": 250.0,
    }  # fmt: skip
    two = {
        **cell,
        "calls_per_s": 180.0,
        "cpu_ms_per_call": 5.0,
        "cpu_ms_per_call_by_process": [1.0, 2.0, 2.0],
    }
    result = {
        "throughput": {
            "sessions": [8],
            "seconds": 4.0,
            "rows": {"ucp": {"8": cell}},
            "rss_mb": {"ucp": [120.0]},
        },
        "scaling": {
            "sessions": [8],
            "seconds": 6.0,
            "rows": {"ucp": {"8": cell}, "ucp --workers 2": {"8": two}},
            "rss_mb": {"ucp": [200.0], "ucp --workers 2": [100.0, 200.0, 200.0]},
        },
    }
    cpu, scaling = _proxy_tables(result)[1:3]
    assert list(cpu.columns[1].cells) == ["4.0 | 3.0 | 1.0 -> 250"]
    rows = list(scaling.columns[1].cells)
    assert rows[0].startswith("100 (1.00x)") and rows[1].startswith("180 (1.80x)")
    assert rows[1].endswith("5.0 (1.0 + 2.0 + 2.0)")


def test_observe_runs_small_and_prints_its_table(cli: Cli) -> None:
    result = cli("bench", "observe", "--calls", "20", "--rounds", "1")
    assert result.exit_code == 0, result.stderr
    assert "Per-call cost of observability" in result.stdout
    for variant in ("none", "metrics", "tracing on"):
        assert variant in result.stdout
    as_json = cli("bench", "observe", "--calls", "10", "--rounds", "1", "--json")
    data = json.loads(as_json.stdout)
    baseline = next(r for r in data["rows"] if r["variant"] == "none")
    assert baseline["ratio_p50"] == pytest.approx(1.0) and all(r["calls"] == 10 for r in data["rows"])


def test_scale_prints_the_set_ups_side_by_side_and_the_kill_run(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ucp.bench.scale

    row = {"calls_per_s": 58.0, "x_embedded_calls_per_s": 1.0, "p50_ms": 914.0, "p99_ms": 1557.0}
    result = {
        "sessions": 50,
        "seconds": 8.0,
        "machine": "2 cores",
        "rows": [
            {**row, "setup": "1 replica, embedded", "added_p50_ms": 0.0, "calls": 464, "failed": 0},
            {**row, "setup": "3 replicas, Redis, HAProxy", "x_embedded_calls_per_s": 0.84, "added_p50_ms": 245.0,
             "calls": 392, "failed": 0},
        ],
        "store_roundtrip": {"snapshot_bytes": 4096, "p50_ms": 0.3},
        "kill": {"calls": 388, "failed": 11, "in_flight_at_kill": 50, "failed_after_kill_started": 0,
                 "calls_per_s_before": 40.0, "calls_per_s_after": 35.0, "back_to_90pct_s": None},
    }  # fmt: skip
    seen: dict[str, object] = {}

    def fake(**kw: object) -> dict[str, object]:
        seen.update(kw)
        return result

    monkeypatch.setattr(ucp.bench.scale, "run_scale_bench", fake)
    out = cli("bench", "scale", "--sessions", "7", "--seconds", "2")
    assert out.exit_code == 0, out.stderr
    assert seen == {"sessions": 7, "seconds": 2.0, "kill_seconds": 9.0}
    assert "0.84" in out.stdout and "+245.0" in out.stdout and "4096 B" in out.stdout
    assert "kill -9 of one of 3 replicas" in out.stdout and "388" in out.stdout
    assert json.loads(cli("bench", "scale", "--json").stdout)["kill"]["failed"] == 11
