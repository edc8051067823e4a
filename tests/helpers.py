"""Shared test helpers: servers to run, a gateway in a temporary home, in-memory clients."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client

from ucp.app import Gateway
from ucp.bench.proxy import free_port as free_port  # re-exported for the tests
from ucp.bench.proxy import wait_port as wait_port  # re-exported for the tests
from ucp.config.models import Config, ServerConfig, StdioServer
from ucp.config.paths import Paths
from ucp.frontend.http import build_http_app
from ucp.frontend.server import build_mcp_server

ROOT = Path(__file__).resolve().parent.parent
SERVERS = Path(__file__).resolve().parent / "servers"
NODE_DIR = ROOT / "tests" / "integration" / "node"
NODE_BIN = NODE_DIR / "node_modules" / ".bin"
PY = sys.executable


def toy_server(name: str = "toy", **kw: Any) -> StdioServer:
    return StdioServer(name=name, command=PY, args=(str(SERVERS / "toy_server.py"),), **kw)


def bad_server(name: str = "bad", **kw: Any) -> StdioServer:
    return StdioServer(name=name, command=PY, args=(str(SERVERS / "bad_server.py"),), **kw)


def time_server(name: str = "time", **kw: Any) -> StdioServer:
    return StdioServer(name=name, command=PY, args=("-m", "mcp_server_time"), **kw)


def venv_bin(name: str) -> str:
    """A console script of the running venv (``ucp``, ``mcp-server-git``...)."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed in this environment; run `make setup`")
    return found


def node_bin(name: str) -> str:
    path = NODE_BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; run `make node` (npm ci in {NODE_DIR})")
    return str(path)


@asynccontextmanager
async def running_gateway(
    servers: Sequence[ServerConfig],
    home: Path,
    *,
    builtins: bool = False,
    wait: bool = True,
    dense: bool = False,
    **config: Any,
) -> AsyncIterator[Gateway]:
    cfg = Config(servers={s.name: s for s in servers}, builtins=builtins, **config)
    async with Gateway(cfg, Paths(home).ensure(), dense=dense) as gateway:
        if wait:
            await gateway.wait_ready(30)
        yield gateway


@asynccontextmanager
async def client_for(gateway: Gateway, *, mode: str = "legacy", **kw: Any) -> AsyncIterator[Client]:
    async with Client(build_mcp_server(gateway.api), mode=mode, **kw) as client:
        yield client


async def subscribe(client: Client, uri: str, *, unsubscribe: bool = False) -> None:
    """resources/(un)subscribe as a 2025-era client sends it (the SDK's helper is deprecated for 2026)."""
    if unsubscribe:
        await client.session.send_request(
            types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=uri)), types.EmptyResult
        )
    else:
        await client.session.send_request(
            types.SubscribeRequest(params=types.SubscribeRequestParams(uri=uri)), types.EmptyResult
        )


def api_client(gateway: Gateway, base_url: str = "http://127.0.0.1:8765") -> httpx2.AsyncClient:
    """An HTTP client on UCP's whole HTTP app (MCP, REST, UTCP, registry routes, auth), in process."""
    app = build_http_app(gateway.fronts())
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=base_url)


async def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll a condition under a deadline (for state that has no event to wait on)."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)


@contextmanager
def background(
    cmd: list[str],
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process for the duration of a test; wait for its port; always kill it."""
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if port is not None:
            wait_port(port, timeout, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
