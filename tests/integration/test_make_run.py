"""The README's first command, `make run`, as a new user types it: it serves UCP over HTTP from the
default install (.venv-lean: no torch) on its embedded defaults, the built-in cloud tools callable
with no server registered, state under UCP_HOME."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import ROOT, free_port, wait_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_make_run_serves_the_builtin_tools_from_the_default_install(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UCP_", "MAKE", "MFLAGS"))}
    env.update(UCP_HOME=str(tmp_path / "home"), HOME=str(tmp_path))
    proc = subprocess.Popen(
        ["make", "-s", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # make and the ucp it starts: one process group to stop
    )
    try:
        wait_port(port, 240, proc)  # a stale .venv-lean is rebuilt first (~1-2 minutes)
        base = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
            health = (await http.get("/healthz")).json()
            assert health["status"] == "ok" and health["tools"] > 0
            async with Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                listed = [t.name for t in (await client.list_tools()).tools]
                if not any(n.startswith("cloud__") for n in listed):  # search mode: found, not listed
                    found = await client.call_tool(
                        "ucp__search_tools", {"query": "rightsize an EC2 instance"}
                    )
                    assert not found.is_error
                    listed = [json.dumps([c.model_dump() for c in found.content])]
                assert any("cloud__rightsize_vm" in n for n in listed), listed
        assert (tmp_path / "home").is_dir()  # state lives under UCP_HOME
        pids = subprocess.run(
            ["pgrep", "-g", str(proc.pid), "-f", "ucp serve"], capture_output=True, text=True
        )
        serving = [int(p) for p in pids.stdout.split()]
        assert serving, "no `ucp serve` in make's process group"
        exe = Path(f"/proc/{serving[0]}/exe").resolve()
        assert ".venv-lean" in str(Path(f"/proc/{serving[0]}/cmdline").read_bytes()) or "venv-lean" in str(
            exe
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=10)
    assert b"serving UCP over HTTP" in out
