"""The lean bench's pieces that need no process: the registry it writes, the table it prints."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ucp.bench import lean


def test_the_registry_runs_each_downstream_from_this_checkout(tmp_path: Path) -> None:
    lean._registry(
        tmp_path / "home", {"catalog": ["/usr/bin/python3", "-m", "ucp.bench.catalog_server", "t.jsonl", "5"]}
    )
    cfg = tomllib.loads((tmp_path / "home" / "ucp.toml").read_text())
    assert cfg["exposure"]["mode"] == "search"
    server = cfg["servers"]["catalog"]
    assert server["command"] == "/usr/bin/python3" and server["args"][-1] == "5"
    assert server["env"]["PYTHONPATH"] == str(lean.ROOT)


def test_the_table_puts_the_installs_side_by_side() -> None:
    result = {
        "installs": {"before": "/a/bin/ucp", "after": "/b/bin/ucp"},
        "cold_start_s": {"direct": 1.0, "before": 2.0, "after": 1.3},
        "imports_ms": {"before": 440.0, "after": 20.0},
        "rss": {
            "before": [{"tools": 500.0, "hybrid_s": 40.0, "rss_mb": 800.0, "peak_mb": 820.0}],
            "after": [{"tools": 500.0, "hybrid_s": 30.0, "rss_mb": 250.0, "peak_mb": 260.0}],
        },
    }
    table = lean.render(result)
    assert "| | before | after |" in table
    assert "2.00 s (2.00×) | 1.30 s (1.30×)" in table
    assert "| RSS, hybrid ready, 500 tools (peak) | 800 MB (820) | 250 MB (260) |" in table


def test_proc_status_fails_clearly_without_the_process(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no ucp serve process"):
        lean.proc_status(tmp_path / "nobody")


@pytest.mark.integration  # real ucp serve processes and the real model
def test_a_small_run_measures_every_figure() -> None:
    from tests.helpers import venv_bin

    slice_tools = Path(__file__).parent / "data" / "metatool_slice" / "tools.jsonl"
    result = lean.run({"this": venv_bin("ucp")}, str(slice_tools), [20], 1)
    assert result["cold_start_s"]["this"] > 0 and result["cold_start_s"]["direct"] > 0
    (row,) = result["rss"]["this"]
    assert row["tools"] == 20 and 50 < row["rss_mb"] <= row["peak_mb"]
    assert result["imports_ms"]["this"] > 0
    assert "| RSS, hybrid ready, 20 tools (peak) |" in lean.render(result)
