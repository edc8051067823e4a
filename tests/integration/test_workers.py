"""`ucp serve --transport http --workers 2` as real processes: several sessions at once over both
workers, one downstream process for the whole gateway (npm's stateful server-memory), what one
session writes another reads on the other worker, and every learning event of both arrives."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from tests.helpers import PY, SERVERS, background, free_port, node_bin, venv_bin

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SESSIONS = 12


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        out += [int(c) for c in children]
        todo += [int(c) for c in children]
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _status(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def _outcomes(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
        return int(con.execute("SELECT COUNT(*) FROM outcomes").fetchone()[0])


async def _wait_healthy(base: str, servers: int) -> None:
    async with httpx2.AsyncClient() as http:
        with anyio.fail_after(60):
            while True:
                try:
                    health = (await http.get(f"{base}/healthz")).json()
                    if health["servers"]["healthy"] >= servers and health["tools"] > 0:
                        return
                except httpx2.HTTPError:
                    pass
                await anyio.sleep(0.2)


async def test_two_workers_share_one_pool(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    memory_file = tmp_path / "memory.jsonl"
    (home / "ucp.toml").write_text(
        "builtins = false\n"
        '[exposure]\nmode = "search"\n'
        "[learning]\nexploration = false\n"
        f'[servers.memory]\ncommand = "{node_bin("mcp-server-memory")}"\n'
        f'env = {{ MEMORY_FILE_PATH = "{memory_file}" }}\n'
        f'[servers.toy]\ncommand = "{PY}"\nargs = ["{SERVERS / "toy_server.py"}"]\n'
    )
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "PYTHONUNBUFFERED": "1"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [
        venv_bin("ucp"),
        "serve",
        "--transport",
        "http",
        "--port",
        str(port),
        "--no-dense",
        "--workers",
        "2",
    ]
    with background(cmd, port=port, env=env, timeout=60) as proc:
        await _wait_healthy(base, 2)
        family = _descendants(proc.pid)
        workers = [p for p in family if " -m ucp serve " in _cmdline(p)]
        memories = [p for p in family if "server-memory" in _cmdline(p) and "setpriv" not in _cmdline(p)]
        assert len(workers) == 2, [_cmdline(p) for p in family]
        assert len(memories) == 1, [_cmdline(p) for p in family]  # one stateful server, not one per worker
        share = str(max(1, (os.cpu_count() or 1) // 2)).encode()
        for w in workers:  # each worker's encoder gets its share of the cores, not 2 threads each
            assert b"UCP_ENCODER_THREADS=" + share + b"\0" in Path(f"/proc/{w}/environ").read_bytes()

        writes = anyio.Lock()  # server-memory rewrites its file per call: concurrent writes race in it

        async def session(i: int) -> None:
            async with Client(f"{base}/mcp", mode="legacy") as client:
                names = {t.name for t in (await client.list_tools()).tools}
                assert {"ucp__search_tools", "ucp__call_tool"} <= names
                found = await client.call_tool("ucp__search_tools", {"query": "create entities", "limit": 10})
                assert found.structured_content is not None
                shown = [r["name"] for r in found.structured_content["results"]]
                assert "memory__create_entities" in shown
                async with writes:
                    result = await client.call_tool(
                        "ucp__call_tool",
                        {
                            "name": "memory__create_entities",
                            "arguments": {
                                "entities": [
                                    {"name": f"entity-{i}", "entityType": "test", "observations": ["x"]}
                                ]
                            },
                        },
                    )
                assert not result.is_error, result.content

        async with anyio.create_task_group() as tg:
            for i in range(SESSIONS):
                tg.start_soon(session, i)

        async def read_back() -> None:
            async with Client(f"{base}/mcp", mode="legacy") as client:
                graph = await client.call_tool(
                    "ucp__call_tool", {"name": "memory__read_graph", "arguments": {}}
                )
                assert not graph.is_error
                text = " ".join(getattr(c, "text", "") for c in graph.content)
                for i in range(SESSIONS):
                    assert f"entity-{i}" in text  # every session's write, whichever worker took it

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(read_back)

        # both workers served calls (the kernel spreads connections over them)
        logs = home / "logs"
        served = {log.name: log.read_text().count('"tool_call"') for log in logs.glob("ucp.worker-*.log")}
        assert len(served) == 2 and all(n > 0 for n in served.values()), served

        # every learning event of both workers reaches the one store (saved every 2 s)
        db = home / "state" / "learning.sqlite"
        with anyio.fail_after(30):
            while _outcomes(db) < SESSIONS:
                await anyio.sleep(0.5)
        assert _outcomes(db) == SESSIONS

        # SIGTERM: the workers drain and exit, then the servers; nothing is left behind
        everyone = _descendants(proc.pid)
        proc.terminate()
        assert proc.wait(timeout=60) == 0
        with anyio.fail_after(20):
            while any(Path(f"/proc/{p}").exists() and "zombie" not in _status(p) for p in everyone):
                await anyio.sleep(0.2)
        assert not list(Path(tempfile.gettempdir()).glob(f"ucp-pool-{proc.pid}-*"))
