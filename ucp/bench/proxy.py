"""Proxy overhead, cold start and memory: UCP vs direct vs a peer proxy (FastMCP), one run.

- Overhead: ``tools/call`` latency of a trivial tool (``echo``) direct to the server, through UCP,
  and through FastMCP's proxy, over stdio and streamable HTTP. All clients stay connected and the
  rounds interleave (direct, ucp, peer, then again), so machine noise hits every variant alike;
  figures are reported as ratios to direct measured in the same run.
- Cold start: process spawn to the first ``tools/list`` answer, with the time server registered.
- Throughput: N sessions (1, 8, 32, 64) call ``echo`` at once over streamable HTTP for a fixed
  time; calls/s and latency per variant (direct, UCP in front of the HTTP and of the stdio echo
  server, UCP with several workers, FastMCP's proxy), the resident set of every process, and
  the CPU each call costs the proxy, the client and the downstream (hence the machine's ceiling).
- Scaling: the same with ``ucp__search_tools`` (dense ranking per call), where UCP itself does the
  work: calls/s with 1 and N worker processes.
- Memory: resident set of the proxy process with 5 downstream servers connected.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

PY = sys.executable


def _bin(name: str) -> str:
    candidate = Path(PY).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Variant:
    label: str
    tool: str
    open: Callable[[], Any]


def _ucp_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "UCP_HOME": str(home),
        "UCP_CONFIG": str(home / "ucp.toml"),
        "UCP_LOG_LEVEL": "warning",
    }


def _write_toml(home: Path, servers: dict[str, dict[str, Any]], builtins: bool = False) -> None:
    import tomli_w

    home.mkdir(parents=True, exist_ok=True)
    (home / "ucp.toml").write_text(tomli_w.dumps({"builtins": builtins, "servers": servers}))


def free_port() -> int:
    """A free TCP port on loopback (also used by the tests)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[Any] | None = None) -> None:
    """Until something listens on 127.0.0.1:``port``; fails early if ``proc`` exits first."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


@asynccontextmanager
async def _processes() -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def _spawn(
    procs: list[subprocess.Popen[bytes]], cmd: list[str], port: int, env: dict[str, str] | None = None
) -> None:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(proc)
    wait_port(port, 60, proc)


async def _time_calls(client: Client, tool: str, calls: int) -> list[float]:
    out = []
    for i in range(calls):
        t0 = time.perf_counter()
        result = await client.call_tool(tool, {"text": f"ping {i}"})
        out.append((time.perf_counter() - t0) * 1000)
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.content}")
    return out


async def _overhead(
    variants: list[Variant], calls: int, rounds: int, warmup: int = 20
) -> dict[str, dict[str, float]]:
    samples: dict[str, list[float]] = {v.label: [] for v in variants}
    async with AsyncExitStack() as stack:
        clients = {}
        for v in variants:
            clients[v.label] = await stack.enter_async_context(v.open())
        for v in variants:
            await _time_calls(clients[v.label], v.tool, warmup)
        for r in range(rounds):
            order = variants[r % len(variants) :] + variants[: r % len(variants)]
            for v in order:
                samples[v.label] += await _time_calls(clients[v.label], v.tool, calls)
    return {
        label: {
            "p50_ms": percentile(s, 0.5),
            "p99_ms": percentile(s, 0.99),
            "mean_ms": statistics.fmean(s),
            "n": len(s),
        }
        for label, s in samples.items()
    }


def _peer_available() -> bool:
    try:
        import fastmcp  # noqa: F401
    except ImportError:
        return False
    return True


async def stdio_overhead(calls: int, rounds: int, work: Path) -> dict[str, dict[str, float]]:
    echo = {"command": PY, "args": ["-m", "ucp.bench.echo_server"]}
    home = work / "stdio-home"
    _write_toml(home, {"echo": echo})
    variants = [
        Variant("direct", "echo", lambda: Client(StdioServerParameters(command=PY, args=echo["args"]))),
        Variant(
            "ucp",
            "echo__echo",
            lambda: Client(
                StdioServerParameters(command=_bin("ucp"), args=["serve", "--no-dense"], env=_ucp_env(home)),
                read_timeout_seconds=60,
            ),
        ),
    ]
    if _peer_available():
        peer_cfg = json.dumps({"mcpServers": {"echo": echo}})
        variants.append(
            Variant(
                "fastmcp",
                "echo",
                lambda: Client(
                    StdioServerParameters(command=PY, args=["-m", "ucp.bench.peer_proxy", peer_cfg]),
                    read_timeout_seconds=60,
                ),
            )
        )
    return await _overhead(variants, calls, rounds)


async def http_overhead(calls: int, rounds: int, work: Path) -> dict[str, dict[str, float]]:
    async with _processes() as procs:
        p_echo, p_ucp, p_peer = free_port(), free_port(), free_port()
        _spawn(procs, [PY, "-m", "ucp.bench.echo_server", "http", str(p_echo)], p_echo)
        echo_url = f"http://127.0.0.1:{p_echo}/mcp"
        home = work / "http-home"
        _write_toml(home, {"echo": {"type": "http", "url": echo_url}})
        _spawn(
            procs,
            [_bin("ucp"), "serve", "--transport", "http", "--port", str(p_ucp), "--no-dense"],
            p_ucp,
            _ucp_env(home),
        )
        variants = [
            Variant("direct", "echo", lambda: Client(echo_url)),
            Variant("ucp", "echo__echo", lambda: Client(f"http://127.0.0.1:{p_ucp}/mcp")),
        ]
        if _peer_available():
            cfg = json.dumps({"mcpServers": {"echo": {"url": echo_url, "transport": "http"}}})
            _spawn(procs, [PY, "-m", "ucp.bench.peer_proxy", cfg, "http", str(p_peer)], p_peer)
            variants.append(Variant("fastmcp", "echo", lambda: Client(f"http://127.0.0.1:{p_peer}/mcp")))
        return await _overhead(variants, calls, rounds)


async def cold_start(repeats: int, work: Path) -> dict[str, dict[str, float]]:
    """Spawn to first tools/list answer (median of ``repeats``), time server registered.

    UCP three times: a first start (a fresh ``UCP_HOME`` each time: it waits for the time server
    to list its tools), a restart without the early stdio front (``UCP_EARLY=0``: it answers from
    the time server's last-known lists while the server connects, once the SDK and the gateway
    are up) and a restart as shipped (the early front answers the handshake from the last start's
    answers while UCP loads: ``ucp.frontend.early``).
    """
    time_srv = {"command": PY, "args": ["-m", "mcp_server_time"]}

    def ucp_params(home: Path, **env: str) -> StdioServerParameters:
        if not (home / "ucp.toml").exists():
            _write_toml(home, {"time": time_srv}, builtins=True)
        return StdioServerParameters(command=_bin("ucp"), args=["serve"], env={**_ucp_env(home), **env})

    fresh = itertools.count()
    targets: dict[str, Callable[[], StdioServerParameters]] = {
        "direct": lambda: StdioServerParameters(command=PY, args=["-m", "mcp_server_time"]),
        "ucp": lambda: ucp_params(work / f"start-home-{next(fresh)}"),
        "ucp (restart, no early front)": lambda: ucp_params(work / "start-home-late", UCP_EARLY="0"),
        "ucp (restart)": lambda: ucp_params(work / "start-home-restart"),
    }
    if _peer_available():
        peer = json.dumps({"mcpServers": {"time": time_srv}})
        targets["fastmcp"] = lambda: StdioServerParameters(
            command=PY, args=["-m", "ucp.bench.peer_proxy", peer]
        )

    async def first_list(params: StdioServerParameters) -> tuple[float, int]:
        t0 = time.perf_counter()
        async with Client(params, read_timeout_seconds=60) as client:
            tools = await client.list_tools()
            elapsed = time.perf_counter() - t0
            if any(t.name.startswith("time__") for t in tools.tools):
                await client.call_tool(
                    "time__get_current_time", {"timezone": "UTC"}
                )  # the server answers too
        return elapsed, len(tools.tools)

    for label in ("ucp (restart, no early front)", "ucp (restart)", "ucp (restart)"):
        await first_list(targets[label]())  # earlier runs: the lists, then the handshake a restart finds
    out: dict[str, dict[str, float]] = {}
    for label, make in targets.items():
        times, counts = [], []
        for _ in range(repeats):
            elapsed, count = await first_list(make())
            times.append(elapsed)
            counts.append(count)
        out[label] = {
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
            "tools": float(statistics.median(counts)),
        }
    return out


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes ``pids`` have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _tree(pid: int) -> tuple[list[int], list[int]]:
    """``pid`` and its descendants, split: the proxy's own processes, and the echo servers it
    spawned (the downstream; not descended into)."""
    own, echoes, todo = [], [], [pid]
    while todo:
        current = todo.pop(0)
        try:
            cmd = Path(f"/proc/{current}/cmdline").read_bytes()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        if current != pid and b"echo_server" in cmd:
            echoes.append(current)
            continue
        own.append(current)
        todo += [int(c) for c in children]
    return own, echoes


def _family(pid: int) -> list[int]:
    """``pid`` and its descendants, minus the downstream servers it spawned (the echo server)."""
    return _tree(pid)[0]


def _family_rss_mb(pid: int) -> list[float]:
    """Resident set of ``pid`` and of its descendants (UCP's workers) in MB, the process first."""
    return [_rss_mb(p) for p in _family(pid)]


def _echo_args(i: int) -> dict[str, Any]:
    return {"text": f"ping {i}"}


async def _session_loop(
    client: Client,
    tool: str,
    until: float,
    latencies: list[float],
    errors: list[str],
    args: Callable[[int], dict[str, Any]] = _echo_args,
) -> None:
    i = 0
    while time.perf_counter() < until:
        t0 = time.perf_counter()
        result = await client.call_tool(tool, args(i))
        latencies.append((time.perf_counter() - t0) * 1000)
        if result.is_error:
            errors.append(str(result.content)[:200])
        i += 1


async def _saturate(
    url: str,
    tool: str,
    sessions: int,
    seconds: float,
    pids: list[int] | None = None,
    *,
    downstream: list[int] | None = None,
    args: Callable[[int], dict[str, Any]] = _echo_args,
) -> dict[str, Any]:
    """``sessions`` MCP sessions call ``tool`` back to back for ``seconds``; calls/s, latency, and
    the CPU the processes ``pids`` spent per call (a figure the machine's other load barely moves).

    Also the CPU per call of the load generator (this process) and of the ``downstream`` server,
    and from the three the machine's **ceiling**: the calls/s its cores could carry if they did
    nothing else (``cores / CPU per call``), the bound no proxy design can pass on this machine."""
    latencies: list[float] = []
    errors: list[str] = []
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(sessions):
            clients.append(await stack.enter_async_context(Client(url, read_timeout_seconds=60)))
        for c in clients:
            await c.call_tool(tool, args(-1))
        procs = pids or []
        down = [p for p in downstream or [] if p not in procs]
        cpu0 = [_cpu_s([p]) for p in procs]
        down0, own0 = _cpu_s(down), time.process_time()
        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for c in clients:
                tg.start_soon(_session_loop, c, tool, t0 + seconds, latencies, errors, args)
        elapsed = time.perf_counter() - t0
        per_process = [_cpu_s([p]) - c0 for p, c0 in zip(procs, cpu0, strict=True)]
        down_s, own_s = _cpu_s(down) - down0, time.process_time() - own0
    if errors:
        raise RuntimeError(f"{tool} failed {len(errors)} times: {errors[0]}")
    n = max(1, len(latencies))
    total_ms = (sum(per_process) + down_s + own_s) * 1000 / n
    return {
        "calls_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "n": float(len(latencies)),
        "cpu_ms_per_call": sum(per_process) * 1000 / n,
        # the first process is the one started (for --workers: the pool process), then its workers
        "cpu_ms_per_call_by_process": [c * 1000 / n for c in per_process],
        "cpu_ms_per_call_client": own_s * 1000 / n,
        "cpu_ms_per_call_downstream": down_s * 1000 / n,
        "ceiling_calls_per_s": (os.cpu_count() or 1) * 1000 / total_ms if total_ms > 0 else 0.0,
    }


async def throughput(
    work: Path,
    *,
    sessions: tuple[int, ...] = (1, 8, 32, 64),
    seconds: float = 4.0,
    workers: tuple[int, ...] = (2,),
    baseline: Path | None = None,
) -> dict[str, Any]:
    """Calls/s at each session count, every variant in one run (interleaved per count).
    ``baseline``: another checkout of UCP (e.g. a worktree of main) served beside this one.

    Downstream: the bench's echo server, over streamable HTTP (``direct`` and most proxies) and
    over stdio (``ucp (stdio echo)``: a downstream that costs the proxy least)."""
    async with _processes() as procs:
        p_echo = free_port()
        _spawn(procs, [PY, "-m", "ucp.bench.echo_server", "http", str(p_echo)], p_echo)
        echo_pid = procs[-1].pid
        echo_url = f"http://127.0.0.1:{p_echo}/mcp"
        stdio_echo = {"command": PY, "args": ["-m", "ucp.bench.echo_server"]}
        # label -> url, tool, the proxy's pid, where its downstream runs ("http": the shared echo server)
        targets: dict[str, tuple[str, str, int, str]] = {"direct": (echo_url, "echo", echo_pid, "")}

        def ucp(label: str, server: dict[str, Any], extra: list[str], code: Path | None = None) -> None:
            home = work / f"tp-{len(procs)}"
            _write_toml(home, {"echo": server})
            port = free_port()
            cmd = [_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense", *extra]
            env = _ucp_env(home) if code is None else {**_ucp_env(home), "PYTHONPATH": str(code)}
            _spawn(procs, cmd, port, env)
            kind = "http" if server.get("type") == "http" else "stdio"
            targets[label] = (f"http://127.0.0.1:{port}/mcp", "echo__echo", procs[-1].pid, kind)

        if baseline is not None:
            ucp("baseline (http echo)", {"type": "http", "url": echo_url}, [], baseline)
            ucp("baseline (stdio echo)", stdio_echo, [], baseline)
        ucp("ucp (http echo)", {"type": "http", "url": echo_url}, [])
        ucp("ucp (stdio echo)", stdio_echo, [])
        for n in workers:
            ucp(f"ucp --workers {n} (http echo)", {"type": "http", "url": echo_url}, ["--workers", str(n)])
            ucp(f"ucp --workers {n} (stdio echo)", stdio_echo, ["--workers", str(n)])
        if _peer_available():
            port = free_port()
            cfg = json.dumps({"mcpServers": {"echo": {"url": echo_url, "transport": "http"}}})
            _spawn(procs, [PY, "-m", "ucp.bench.peer_proxy", cfg, "http", str(port)], port)
            targets["fastmcp (http echo)"] = (f"http://127.0.0.1:{port}/mcp", "echo", procs[-1].pid, "http")
        for url, tool, _, _ in targets.values():
            async with Client(url, read_timeout_seconds=60) as client:  # every server is up
                await client.call_tool(tool, {"text": "up"})
        rows: dict[str, dict[str, Any]] = {label: {} for label in targets}
        for count in sessions:
            labels = list(targets)
            shift = count % len(labels)
            for label in labels[shift:] + labels[:shift]:
                url, tool, pid, kind = targets[label]
                own, spawned = _tree(pid)
                down = [echo_pid] if kind == "http" else spawned if kind == "stdio" else []
                rows[label][str(count)] = await _saturate(url, tool, count, seconds, own, downstream=down)
        rss = {label: _family_rss_mb(pid) for label, (_, _, pid, _) in targets.items()}
        return {"sessions": list(sessions), "seconds": seconds, "rows": rows, "rss_mb": rss}


SEARCHES = (
    "forecast next month's usage of a service",
    "find idle windows to shut down test machines",
    "right-size an over-provisioned virtual machine",
    "detect anomalies in a cost series",
    "pack containers onto as few nodes as possible",
    "what time is it in Tokyo",
)


_SEARCH_COUNT = itertools.count()


def _search_args(i: int) -> dict[str, Any]:
    n = next(_SEARCH_COUNT)  # across sessions: never the same query twice, so no cached query vector
    return {"query": f"{SEARCHES[n % len(SEARCHES)]} (request {n})"}


async def _wait_dense_everywhere(port: int, *, checks: int = 12, timeout: float = 180) -> None:
    """Until ``checks`` health answers in a row, each on a new connection (so on any worker), say
    the embedding index is ready."""
    import httpx2

    with anyio.fail_after(timeout):
        ready = 0
        while ready < checks:
            async with httpx2.AsyncClient() as http:
                health = (await http.get(f"http://127.0.0.1:{port}/healthz")).json()
            ready = ready + 1 if health.get("dense_ready") else 0
            if not ready:
                await anyio.sleep(0.5)


async def scaling(
    work: Path, *, sessions: tuple[int, ...] = (8, 32), seconds: float = 6.0, workers: tuple[int, ...] = (2,)
) -> dict[str, Any]:
    """Calls/s with 1 and N worker processes where UCP itself does the work: every call is a
    ``ucp__search_tools`` (search mode, dense ranking on: one query encoded per call, a new query
    each time), no downstream involved. The throughput part's echo calls show the opposite case,
    where the client and the downstream take most of the machine."""
    async with _processes() as procs:
        targets: dict[str, tuple[str, int]] = {}
        # one process with the encoder's default 2 threads, the same with 1 (what each of 2 workers
        # gets on 2 cores: separates the gain of the processes from that of the thread count), workers
        variants = [("ucp", 1, {}), ("ucp, 1 encoder thread", 1, {"UCP_ENCODER_THREADS": "1"})]
        variants += [(f"ucp --workers {n}", n, {}) for n in workers]
        for label, n, extra_env in variants:
            home = work / f"scale-{len(targets)}"
            _write_toml(home, {}, builtins=True)
            port = free_port()
            cmd = [_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--mode", "search"]
            env = {**_ucp_env(home), **extra_env}
            _spawn(procs, [*cmd, "--workers", str(n)] if n > 1 else cmd, port, env)
            targets[label] = (f"http://127.0.0.1:{port}/mcp", port)
        for _, port in targets.values():
            await _wait_dense_everywhere(port)
        rows: dict[str, dict[str, Any]] = {label: {} for label in targets}
        pids = {label: procs[i].pid for i, label in enumerate(targets)}
        for count in sessions:
            labels = list(targets)
            shift = count % len(labels)
            for label in labels[shift:] + labels[:shift]:
                url, _ = targets[label]
                rows[label][str(count)] = await _saturate(
                    url, "ucp__search_tools", count, seconds, _family(pids[label]), args=_search_args
                )
        rss = {label: _family_rss_mb(pid) for label, pid in pids.items()}
        return {"sessions": list(sessions), "seconds": seconds, "rows": rows, "rss_mb": rss}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def five_servers(node_bin: Path | None) -> dict[str, dict[str, Any]]:
    servers: dict[str, dict[str, Any]] = {
        "time": {"command": PY, "args": ["-m", "mcp_server_time"]},
        "git": {"command": _bin("mcp-server-git")},
        "echo": {"command": PY, "args": ["-m", "ucp.bench.echo_server"]},
    }
    if node_bin is not None and (node_bin / "mcp-server-everything").exists():
        servers["everything"] = {"command": str(node_bin / "mcp-server-everything"), "args": ["stdio"]}
        servers["memory"] = {"command": str(node_bin / "mcp-server-memory")}
    else:  # without the npm peers: what the project installs (no mcp-server-fetch: not a dependency)
        servers["echo2"] = {"command": PY, "args": ["-m", "ucp.bench.echo_server"]}
        servers["echo3"] = {"command": PY, "args": ["-m", "ucp.bench.echo_server"]}
    return servers


async def memory(work: Path, node_bin: Path | None) -> dict[str, dict[str, float]]:
    servers = five_servers(node_bin)
    out: dict[str, dict[str, float]] = {}
    async with _processes() as procs:
        for label, extra in (("ucp (BM25 only)", ["--no-dense"]), ("ucp (dense model loaded)", [])):
            home = work / f"mem-{len(procs)}"
            _write_toml(home, servers, builtins=True)
            port = free_port()
            _spawn(
                procs,
                [_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--mode", "full", *extra],
                port,
                _ucp_env(home),
            )
            await _wait_healthy(port, dense=not extra)
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                tools = len((await client.list_tools()).tools)
            out[label] = {
                "rss_mb": _rss_mb(procs[-1].pid),
                "servers": float(len(servers)),
                "tools": float(tools),
            }
        if _peer_available():
            port = free_port()
            _spawn(
                procs,
                [PY, "-m", "ucp.bench.peer_proxy", json.dumps({"mcpServers": servers}), "http", str(port)],
                port,
            )
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                tools = len((await client.list_tools()).tools)
            out["fastmcp"] = {
                "rss_mb": _rss_mb(procs[-1].pid),
                "servers": float(len(servers)),
                "tools": float(tools),
            }
    return out


async def _wait_healthy(port: int, *, dense: bool, timeout: float = 120) -> None:
    """Until every server is connected (and, with ``dense``, the embedding index is built)."""
    import httpx2

    async with httpx2.AsyncClient() as http:
        with anyio.fail_after(timeout):
            while True:
                health = (await http.get(f"http://127.0.0.1:{port}/healthz")).json()
                servers = health["servers"]
                if servers["healthy"] == servers["total"] and (health["dense_ready"] or not dense):
                    return
                await anyio.sleep(0.25)


def run_proxy_bench(
    *,
    calls: int = 200,
    rounds: int = 3,
    start_repeats: int = 5,
    node_bin: Path | None = None,
    parts: tuple[str, ...] = ("stdio", "http", "throughput", "scaling", "startup", "memory"),
    sessions: tuple[int, ...] = (1, 8, 32, 64),
    seconds: float = 4.0,
    workers: tuple[int, ...] = (2,),
    baseline: Path | None = None,
) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="ucp-bench-") as tmp:
            work = Path(tmp)
            result: dict[str, Any] = {"machine": machine()}
            if "stdio" in parts:
                result["stdio"] = await stdio_overhead(calls, rounds, work)
            if "http" in parts:
                result["http"] = await http_overhead(calls, rounds, work)
            if "throughput" in parts:
                result["throughput"] = await throughput(
                    work, sessions=sessions, seconds=seconds, workers=workers, baseline=baseline
                )
            if "scaling" in parts:
                result["scaling"] = await scaling(work, sessions=sessions, seconds=seconds, workers=workers)
            if "startup" in parts:
                result["startup"] = await cold_start(start_repeats, work)
            if "memory" in parts:
                result["memory"] = await memory(work, node_bin)
            return result

    return anyio.run(main)


def machine() -> dict[str, Any]:
    import platform

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }
