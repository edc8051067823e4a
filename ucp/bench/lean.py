"""``python -m ucp.bench.lean``: two installs side by side — serving RSS at N tools, cold start, imports.

Why: issue 18's budgets are about a user's machine (a default install, a fresh ``UCP_HOME``), so
each figure comes from a real ``ucp serve`` of the install under test, over stdio as a host runs
it, measured in one run against the other install (e.g. the torch-era checkout and the lean one):

- **RSS with hybrid retrieval ready** at each catalog size: ``ucp serve`` in search mode in front
  of :mod:`ucp.bench.catalog_server` (N tools from a data set), searched until the answer says
  ``hybrid``; then VmRSS and VmHWM (peak) of the UCP process from ``/proc``. A fresh home each
  time, so every tool is embedded (the cold case).
- **Cold start**: spawn to the first ``tools/list`` answer, fresh home, the time server
  registered (as ``ucp bench proxy`` measures it), median of ``--starts``, interleaved with the
  time server started directly.
- **Import** of ``ucp.cli.main`` (``-X importtime``, best of 5).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from ucp.bench.footprint import import_ms

PY = sys.executable
ROOT = Path(__file__).resolve().parents[2]  # the downstreams import this checkout's ucp.bench


def _env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home.parent), "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_LOG_LEVEL": "warning"}  # fmt: skip


def _registry(home: Path, servers: dict[str, list[str]], mode: str = "search") -> None:
    home.mkdir(parents=True, exist_ok=True)
    lines = [f'[exposure]\nmode = "{mode}"\n']
    for name, cmd in servers.items():
        lines.append(
            f"[servers.{name}]\ncommand = {json.dumps(cmd[0])}\nargs = {json.dumps(cmd[1:])}\n"
            f"env = {{ PYTHONPATH = {json.dumps(str(ROOT))} }}\n"
        )
    (home / "ucp.toml").write_text("\n".join(lines))


def proc_status(home: Path) -> dict[str, float]:
    """VmRSS / VmHWM (MB) of the ``ucp serve`` process whose UCP_HOME is ``home``."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            cmd = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"UCP_HOME={home}".encode() in env and b"serve" in cmd and b"catalog_server" not in cmd:
            fields = dict(
                line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line
            )
            return {k: int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")}
    raise RuntimeError(f"no ucp serve process with UCP_HOME={home}")


async def rss_at(ucp: str, tools_file: str, count: int, work: Path, timeout: float = 900) -> dict[str, float]:
    home = work / f"rss-{Path(ucp).parent.parent.name}-{count}-{time.monotonic_ns()}"
    _registry(home, {"catalog": [PY, "-m", "ucp.bench.catalog_server", tools_file, str(count)]})
    params = StdioServerParameters(command=ucp, args=["serve"], env=_env(home))
    t0 = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        with anyio.fail_after(timeout):
            while True:
                found = await session.call_tool(
                    "ucp__search_tools", {"query": "weather forecast for Paris", "limit": 5}
                )
                content = found.structured_content or {}
                if content.get("mode") == "hybrid" and len(content.get("results", [])) > 0:
                    break
                await anyio.sleep(1.0)
        ready = time.perf_counter() - t0
        await anyio.sleep(2.0)  # let the build's garbage go
        status = proc_status(home)
    return {"tools": float(count), "hybrid_s": ready, "rss_mb": status["VmRSS"], "peak_mb": status["VmHWM"]}


async def first_list(params: StdioServerParameters) -> float:
    t0 = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        return time.perf_counter() - t0


async def cold_starts(installs: dict[str, str], repeats: int, work: Path) -> dict[str, float]:
    time_srv = [PY, "-m", "mcp_server_time"]
    times: dict[str, list[float]] = {"direct": [], **{label: [] for label in installs}}
    for i in range(repeats):
        times["direct"].append(
            await first_list(StdioServerParameters(command=PY, args=["-m", "mcp_server_time"]))
        )
        for label, ucp in installs.items():
            home = work / f"start-{label}-{i}"
            _registry(home, {"time": time_srv}, mode="auto")
            times[label].append(
                await first_list(StdioServerParameters(command=ucp, args=["serve"], env=_env(home)))
            )
    return {label: statistics.median(ts) for label, ts in times.items()}


def run(installs: dict[str, str], tools_file: str, counts: list[int], starts: int) -> dict[str, Any]:
    out: dict[str, Any] = {"installs": installs, "rss": {}, "imports_ms": {}}
    with tempfile.TemporaryDirectory(prefix="ucp-lean-") as tmp:
        work = Path(tmp)
        out["cold_start_s"] = anyio.run(cold_starts, installs, starts, work)
        for label, ucp in installs.items():
            out["imports_ms"][label] = import_ms(
                "ucp.cli.main", python=str(Path(ucp).parent / "python"), repeats=5
            )
            out["rss"][label] = [anyio.run(rss_at, ucp, tools_file, n, work) for n in counts]
    return out


def render(result: dict[str, Any]) -> str:
    labels = list(result["installs"])
    lines = ["| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    direct = result["cold_start_s"]["direct"]
    starts = result["cold_start_s"]
    cells = [f"{starts[x]:.2f} s ({starts[x] / direct:.2f}×)" for x in labels]
    lines.append(
        f"| first tools/list, fresh home (direct server: {direct:.2f} s) | " + " | ".join(cells) + " |"
    )
    lines.append(
        "| import ucp.cli.main | " + " | ".join(f"{result['imports_ms'][x]:.0f} ms" for x in labels) + " |"
    )
    for i, row in enumerate(result["rss"][labels[0]]):
        n = int(row["tools"])
        runs: list[dict[str, float]] = [result["rss"][x][i] for x in labels]
        lines.append(f"| RSS, hybrid ready, {n:,} tools (peak) | " + " | ".join(
            f"{c['rss_mb']:.0f} MB ({c['peak_mb']:.0f})" for c in runs) + " |")  # fmt: skip
        lines.append(
            f"| time to hybrid, {n:,} tools, cold cache | "
            + " | ".join(f"{c['hybrid_s']:.1f} s" for c in runs)
            + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a bench
    p = argparse.ArgumentParser(
        description="Two UCP installs side by side: RSS at N tools, cold start, imports."
    )
    p.add_argument("--ucp", action="append", required=True, help="LABEL=/path/to/bin/ucp (repeat)")
    p.add_argument("--tools", required=True, help="tools.jsonl of a tool-retrieval data set")
    p.add_argument("--counts", default="500,10000")
    p.add_argument("--starts", type=int, default=5)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    installs = dict(x.split("=", 1) for x in a.ucp)
    result = run(installs, a.tools, [int(c) for c in a.counts.split(",")], a.starts)
    print(json.dumps(result, indent=2) if a.json else render(result))


if __name__ == "__main__":  # pragma: no cover
    main()
