"""A default install (``pip install ucp``, no extras) is lean and serves hybrid retrieval.

``make lean`` builds that install in its own venv (``.venv-lean``; pip's cache makes a rebuild
take about a minute) and ``make test`` / ``make lean-check`` point ``UCP_LEAN_PYTHON`` at it.
Checked here, against the real install: no torch (nor the other heavy packages the default
install left behind) in ``pip list``, the installed size within the 1.0 GB budget, and ``ucp
serve`` over stdio on a fresh ``UCP_HOME`` answering a search in hybrid mode (the packaged
model on ONNX Runtime) with the serving process under the 300 MB RSS budget.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

pytestmark = pytest.mark.integration

LEFT_OUT = {
    "torch",
    "sentence-transformers",
    "transformers",
    "lancedb",
    "pyarrow",
    "rank-bm25",
    "onnx",
    "scikit-learn",
}
SIZE_BUDGET_MB = 1024
RSS_BUDGET_MB = 300


@pytest.fixture(scope="module")
def lean_python() -> Path:
    value = os.environ.get("UCP_LEAN_PYTHON")
    path = Path(value) if value else Path(__file__).resolve().parents[2] / ".venv-lean" / "bin" / "python"
    if not path.exists():  # a missing install is a failure, never a skip: `make test` always builds it
        pytest.fail(
            f"no lean install at {path}: run `make lean` (`make test` builds it and sets UCP_LEAN_PYTHON)"
        )
    return path


def _run(python: Path, *args: str) -> str:
    proc = subprocess.run([str(python), *args], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_default_install_leaves_the_heavy_packages_out(lean_python: Path) -> None:
    installed = {
        p["name"].lower() for p in json.loads(_run(lean_python, "-m", "pip", "list", "--format=json"))
    }
    assert "ucp" in installed and "onnxruntime" in installed
    assert not installed & LEFT_OUT, installed & LEFT_OUT


def test_the_default_install_is_within_its_size_budget(lean_python: Path) -> None:
    report = json.loads(_run(lean_python, "-m", "ucp.bench.footprint", "--json"))
    assert report["runtime_mb"] <= SIZE_BUDGET_MB, report["runtime"][:10]
    site = Path(_run(lean_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not p.is_symlink())
    assert total / 2**20 <= SIZE_BUDGET_MB


def _rss_mb(python: Path, home: Path) -> float:
    """RSS of the lean ``ucp serve`` whose UCP_HOME is ``home`` (found in /proc)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"serve" in cmd
            and f"UCP_HOME={home}".encode() in env
            and any(str(python.parent).encode() in c for c in cmd)
        ):
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    raise AssertionError("the lean ucp serve process was not found")


@pytest.mark.anyio
async def test_ucp_serve_answers_a_hybrid_search_without_torch(lean_python: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    time_server = [sys.executable, "-m", "mcp_server_time"]  # a downstream from the test's own venv
    (home / "ucp.toml").write_text(
        f'[exposure]\nmode = "search"\n\n[servers.time]\ncommand = "{time_server[0]}"\nargs = ["-m", "mcp_server_time"]\n'
    )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "UCP_HOME": str(home), "UCP_CONFIG": ""}
    params = StdioServerParameters(command=str(lean_python.parent / "ucp"), args=["serve"], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        started = time.monotonic()
        found = None
        with anyio.fail_after(180):
            while True:
                found = await session.call_tool(
                    "ucp__search_tools", {"query": "what time is it in Tokyo", "limit": 5}
                )
                assert found.structured_content is not None, found
                names = [r["name"] for r in found.structured_content["results"]]
                if found.structured_content["mode"] == "hybrid" and "time__get_current_time" in names:
                    break
                await anyio.sleep(0.5)
        assert "time__get_current_time" in names[:3], names
        rss = _rss_mb(lean_python, home)
        print(f"lean serve: hybrid after {time.monotonic() - started:.1f} s, RSS {rss:.0f} MB")
        assert rss <= RSS_BUDGET_MB
