"""The lean bench's pieces that need no process: the registry it writes, the table it prints."""

from __future__ import annotations

import tomllib
from pathlib import Path

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
    import pytest

    with pytest.raises(RuntimeError, match="no ucp serve process"):
        lean.proc_status(tmp_path / "nobody")
