"""The `ucp` command line as real processes: a temporary UCP_HOME and HOME, real servers
(mcp-server-time, the toy server), a real `ucp serve` that picks up registry changes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client

from tests.helpers import PY, SERVERS, background, free_port, venv_bin

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "user"
    home.mkdir()
    out = {
        **os.environ,
        "UCP_HOME": str(tmp_path / "ucp-home"),
        "HOME": str(home),
        "COLUMNS": "200",
        "PYTHONUNBUFFERED": "1",
    }
    for var in ("UCP_CONFIG", "XDG_CONFIG_HOME", "UCP_CATALOG_DIR"):
        out.pop(var, None)
    return out


def ucp(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_bin("ucp"), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=env["HOME"]
    )


def test_add_time_server_then_call_it(env: dict[str, str]) -> None:
    added = ucp(env, "registry", "add", "time", "--", venv_bin("mcp-server-time"))
    assert added.returncode == 0, added.stderr
    called = ucp(env, "tools", "call", "time__get_current_time", "--args", '{"timezone": "UTC"}')
    assert called.returncode == 0, called.stderr
    result = json.loads(called.stdout)
    assert result["timezone"] == "UTC"
    assert {"datetime", "day_of_week", "is_dst"} <= set(result)
    bad = ucp(env, "tools", "call", "time__get_current_time", "--args", '{"timezone": "Mars/Olympus"}')
    assert bad.returncode == 1  # the tool's own error
    assert "Mars/Olympus" in bad.stderr
    invalid = ucp(env, "tools", "call", "time__get_current_time", "--args", "{}")
    assert invalid.returncode == 2  # schema validation: 'timezone' is required
    assert "timezone" in invalid.stderr


def test_catalog_entry_resolved_on_path(env: dict[str, str]) -> None:
    env = {**env, "PATH": f"{Path(venv_bin('mcp-server-time')).parent}{os.pathsep}{env['PATH']}"}
    assert ucp(env, "registry", "add", "--from-catalog", "time").returncode == 0
    checked = ucp(env, "registry", "check", "time", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [probe] = json.loads(checked.stdout)
    assert probe["ok"] and probe["tools"] == 2 and probe["latency_ms"] > 0
    listed = json.loads(ucp(env, "tools", "list", "--server", "time", "--json").stdout)
    assert [t["name"] for t in listed] == ["time__convert_time", "time__get_current_time"]
    found = json.loads(ucp(env, "tools", "search", "current time in a timezone", "--json").stdout)
    assert found["results"][0]["name"] == "time__get_current_time"
    described = json.loads(ucp(env, "tools", "describe", "time__convert_time", "--json").stdout)
    assert set(described["input_schema"]["required"]) == {"source_timezone", "time", "target_timezone"}


def test_doctor_with_real_servers(env: dict[str, str]) -> None:
    assert ucp(env, "registry", "add", "toy", "--", PY, str(SERVERS / "toy_server.py")).returncode == 0
    healthy = ucp(env, "doctor", "--json")
    checks = {c["check"]: c for c in json.loads(healthy.stdout)["checks"]}
    assert healthy.returncode == 0, checks
    assert checks["server toy"]["status"] == "ok"
    assert ucp(env, "registry", "add", "dead", "--", PY, "-c", "raise SystemExit(3)").returncode == 0
    sick = ucp(env, "doctor")
    assert sick.returncode == 1
    assert "dead" in sick.stdout


@pytest.mark.slow
def test_doctor_deep_loads_the_model(env: dict[str, str]) -> None:
    result = ucp(env, "doctor", "--deep", "--skip-servers", "--json", timeout=300)
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["embedding model"]["status"] == "ok", checks["embedding model"]
    assert "384 dimensions" in checks["embedding model"]["detail"]


def test_parallel_cli_runs_lose_nothing(env: dict[str, str]) -> None:
    names = [f"p{i}" for i in range(6)]
    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(lambda n: ucp(env, "registry", "add", n, "--", "cmd", n), names))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    listed = json.loads(ucp(env, "registry", "list", "--json").stdout)
    assert sorted(r["name"] for r in listed) == names


# ---------------------------------------------------------------- install
def test_install_against_sample_host_files(env: dict[str, str]) -> None:
    home = Path(env["HOME"])
    desktop = home / ".config" / "Claude" / "claude_desktop_config.json"
    desktop.parent.mkdir(parents=True)
    sample: dict[str, Any] = {
        "mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/d"]}
        },
        "preferences": {"theme": "dark"},
    }
    desktop.write_text(json.dumps(sample, indent=2))
    vscode = home / ".config" / "Code" / "User" / "mcp.json"
    vscode.parent.mkdir(parents=True)
    vscode.write_text(
        json.dumps(
            {
                "inputs": [{"id": "k", "type": "promptString"}],
                "servers": {"gh": {"type": "http", "url": "https://x/mcp"}},
            }
        )
    )
    before = {p: p.read_bytes() for p in (desktop, vscode)}

    for host in ("claude-desktop", "vscode"):
        dry = ucp(env, "install", host, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert '"ucp"' in dry.stdout
    assert {p: p.read_bytes() for p in before} == before
    assert not list(home.rglob("*.bak-*"))

    for host in ("claude-desktop", "vscode", "claude-code", "cursor"):
        done = ucp(env, "install", host)
        assert done.returncode == 0, done.stderr
    desktop_data = json.loads(desktop.read_text())
    assert desktop_data["mcpServers"]["fs"] == sample["mcpServers"]["fs"]
    assert desktop_data["preferences"] == {"theme": "dark"}
    entry = desktop_data["mcpServers"]["ucp"]
    assert entry == {"command": venv_bin("ucp"), "args": ["serve"], "env": {"UCP_HOME": env["UCP_HOME"]}}
    vscode_data = json.loads(vscode.read_text())
    assert vscode_data["inputs"] == [{"id": "k", "type": "promptString"}]
    assert set(vscode_data["servers"]) == {"gh", "ucp"}
    assert vscode_data["servers"]["ucp"]["type"] == "stdio"
    assert json.loads((home / ".claude.json").read_text())["mcpServers"]["ucp"]["type"] == "stdio"
    assert "ucp" in json.loads((home / ".cursor" / "mcp.json").read_text())["mcpServers"]
    for path, original in before.items():
        [backup] = path.parent.glob(path.name + ".bak-*")
        assert backup.read_bytes() == original

    # the installed entry really starts UCP: run its command the way a host would
    assert ucp(env, "registry", "add", "toy", "--", PY, str(SERVERS / "toy_server.py")).returncode == 0
    host_env = {"PATH": "/usr/bin:/bin", **entry["env"]}
    listed = subprocess.run(
        [entry["command"], "tools", "list", "--server", "toy", "--json"],
        env=host_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert "toy__echo" in {t["name"] for t in json.loads(listed.stdout)}


# ---------------------------------------------------------------- hot reload in a running `ucp serve`
@pytest.fixture
def serve(env: dict[str, str]) -> Iterator[str]:
    registry = Path(env["UCP_HOME"]) / "ucp.toml"
    registry.parent.mkdir(parents=True)
    registry.write_text(
        f'builtins = false\n\n[servers.toy]\ncommand = "{PY}"\nargs = ["{SERVERS / "toy_server.py"}"]\n'
    )
    port = free_port()
    with background(
        [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"],
        port=port,
        env=env,
        timeout=60,
    ):
        yield f"http://127.0.0.1:{port}"


async def _tool_count(url: str) -> int:
    async with httpx2.AsyncClient() as http:
        count: int = (await http.get(f"{url}/healthz")).json()["tools"]
        return count


async def _wait_for_count(url: str, predicate: Callable[[int], bool], timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = await _tool_count(url)
        if predicate(count):
            return count
        if time.monotonic() > deadline:
            raise TimeoutError(f"/healthz tools stayed at {count}")
        await anyio.sleep(0.1)


@pytest.mark.anyio
async def test_serve_picks_up_registry_changes_without_restart(serve: str, env: dict[str, str]) -> None:
    start = await _wait_for_count(serve, lambda n: n == 6)  # the toy server's tools
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    async with Client(f"{serve}/mcp", mode="legacy", message_handler=on_message) as client:
        assert "time__get_current_time" not in {t.name for t in (await client.list_tools()).tools}
        added = await anyio.to_thread.run_sync(
            lambda: ucp(env, "registry", "add", "time", "--", venv_bin("mcp-server-time"))
        )
        assert added.returncode == 0, added.stderr
        assert await _wait_for_count(serve, lambda n: n == start + 2) == start + 2
        with anyio.fail_after(30):
            await changed.wait()
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"time__get_current_time", "toy__echo"} <= names
        result = await client.call_tool("time__get_current_time", {"timezone": "UTC"})
        assert result.structured_content is not None
        assert result.structured_content["timezone"] == "UTC"

    disabled = await anyio.to_thread.run_sync(lambda: ucp(env, "registry", "disable", "toy"))
    assert disabled.returncode == 0
    assert await _wait_for_count(serve, lambda n: n == 2) == 2
    removed = await anyio.to_thread.run_sync(lambda: ucp(env, "registry", "remove", "time"))
    assert removed.returncode == 0
    assert await _wait_for_count(serve, lambda n: n == 0) == 0
