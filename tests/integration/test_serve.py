"""`ucp serve` as a real process, over stdio and streamable HTTP, read by the MCP SDK client
and by @modelcontextprotocol/inspector-cli@1.0.3 (a 2025-era JS client, like Claude Desktop)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.helpers import NODE_DIR, PY, SERVERS, background, free_port, venv_bin

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

INSPECTOR = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "inspector-cli" / "build" / "index.js"


def _write_registry(path: Path) -> Path:
    path.write_text(
        "[servers.time]\n"
        f'command = "{PY}"\n'
        'args = ["-m", "mcp_server_time"]\n'
        "\n[servers.toy]\n"
        f'command = "{PY}"\n'
        f'args = ["{SERVERS / "toy_server.py"}"]\n'
    )
    return path


@pytest.fixture
def ucp_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    _write_registry(home / "ucp.toml")
    return {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def ucp_http(ucp_env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    with background(
        [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"],
        port=port,
        env=ucp_env,
        timeout=60,
    ):
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_serve_with_sdk_client(ucp_env: dict[str, str], tmp_path: Path, mode: str) -> None:
    params = StdioServerParameters(command=venv_bin("ucp"), args=["serve", "--no-dense"], env=ucp_env)
    errlog = (tmp_path / "stderr.log").open("w")
    try:
        async with Client(params, mode=mode, read_timeout_seconds=60) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            # 2 time + 6 toy + 9 built-in cloud tools = 17 <= 30: auto picks full mode
            assert {"time__get_current_time", "toy__echo"} <= names
            assert any(n.startswith("cloud__") for n in names)
            result = await client.call_tool("time__get_current_time", {"timezone": "UTC"})
            assert result.structured_content is not None
            assert result.structured_content["timezone"] == "UTC"
    finally:
        errlog.close()


async def test_http_serve_healthz_and_mcp(ucp_http: str) -> None:
    async with httpx2.AsyncClient() as http:
        health = (await http.get(f"{ucp_http}/healthz")).json()
    assert health["status"] == "ok"
    assert health["servers"]["total"] >= 3
    for mode in ("legacy", "auto"):
        async with Client(f"{ucp_http}/mcp", mode=mode) as client:
            tools = await client.list_tools()
            assert "toy__add" in {t.name for t in tools.tools}
            result = await client.call_tool("toy__add", {"a": 20, "b": 22})
            assert result.structured_content == {"result": 42}
            if mode == "legacy":
                assert client.server_capabilities.tools is not None
                assert client.server_capabilities.tools.list_changed is True


def _inspector(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    if not INSPECTOR.exists():
        raise FileNotFoundError(f"{INSPECTOR} missing: run `make node`")
    proc = subprocess.run(
        ["node", str(INSPECTOR), *args],
        cwd=NODE_DIR / "e2e",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)
    assert isinstance(data, dict)
    return data


def test_inspector_cli_over_stdio(ucp_env: dict[str, str]) -> None:
    ucp_bin = venv_bin("ucp")
    listed = _inspector([ucp_bin, "serve", "--no-dense", "--method", "tools/list"], ucp_env)
    names = {t["name"] for t in listed["tools"]}
    assert "time__get_current_time" in names
    called = _inspector(
        [
            ucp_bin,
            "serve",
            "--no-dense",
            "--method",
            "tools/call",
            "--tool-name",
            "time__get_current_time",
            "--tool-arg",
            "timezone=Europe/Paris",
        ],
        ucp_env,
    )
    assert called.get("isError") in (None, False)
    assert called["structuredContent"]["timezone"] == "Europe/Paris"  # type: ignore[index]


def test_inspector_cli_over_http(ucp_http: str, ucp_env: dict[str, str]) -> None:
    listed = _inspector([f"{ucp_http}/mcp", "--method", "tools/list"], ucp_env)
    assert "toy__echo" in {t["name"] for t in listed["tools"]}
    called = _inspector(
        [
            f"{ucp_http}/mcp",
            "--method",
            "tools/call",
            "--tool-name",
            "toy__echo",
            "--tool-arg",
            "text=hello inspector",
        ],
        ucp_env,
    )
    assert "hello inspector" in json.dumps(called)
    prompts = _inspector([f"{ucp_http}/mcp", "--method", "prompts/list"], ucp_env)
    assert "toy__greet" in {p["name"] for p in prompts["prompts"]}


def test_host_config_file_is_accepted_as_is(tmp_path: Path) -> None:
    """A Claude Desktop config, given with --config, is served without conversion."""
    host = tmp_path / "claude_desktop_config.json"
    host.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "time": {"command": PY, "args": ["-m", "mcp_server_time"]},
                    "ucp": {"command": "ucp", "args": ["serve"]},
                }
            }
        )
    )
    env = {**os.environ, "UCP_HOME": str(tmp_path / "home")}
    listed = _inspector(
        [venv_bin("ucp"), "serve", "--no-dense", "--config", str(host), "--method", "tools/list"], env
    )
    names = {t["name"] for t in listed["tools"]}
    assert "time__get_current_time" in names
    assert not any(n.startswith("ucp__") and n not in ("ucp__search_tools",) for n in names)


def test_malformed_config_fails_before_start_naming_file_entry_field(tmp_path: Path) -> None:
    bad = tmp_path / "ucp.toml"
    bad.write_text('[servers.broken]\ncommand = "x"\ntimeout = "soon"\n')
    proc = subprocess.run(
        [venv_bin("ucp"), "serve", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "UCP_HOME": str(tmp_path / "h")},
    )
    assert proc.returncode == 2
    assert str(bad) in proc.stderr
    assert "broken" in proc.stderr
    assert "timeout" in proc.stderr


def test_refuses_non_loopback_bind_without_keys(tmp_path: Path) -> None:
    env = {**os.environ, "UCP_HOME": str(tmp_path), "UCP_API_KEYS": ""}
    proc = subprocess.run(
        [venv_bin("ucp"), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 2
    assert "0.0.0.0" in proc.stderr


async def test_stdio_logs_are_json_on_stderr_only(ucp_env: dict[str, str], tmp_path: Path) -> None:
    log_path = tmp_path / "stderr.log"
    params = StdioServerParameters(command=venv_bin("ucp"), args=["serve", "--no-dense"], env=ucp_env)
    with log_path.open("w") as errlog:
        from mcp.client.stdio import stdio_client

        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            await client.call_tool("toy__echo", {"text": "log me"})
    await anyio.sleep(0)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    calls = [e for e in lines if e.get("event") == "tool_call"]
    assert calls, "one JSON line per call on stderr"
    call = calls[-1]
    assert call["server"] == "toy"
    assert call["tool"] == "echo"
    assert call["outcome"] == "ok"
    assert isinstance(call["duration_ms"], float)
    assert call["session_id"]


async def test_restart_lists_a_slow_server_from_its_last_known_lists(tmp_path: Path) -> None:
    """The host's first tools/list does not wait for a slow server on a restart; its tools work."""
    home = tmp_path / "home"
    home.mkdir()
    slow = f"sleep 3; exec {PY} -m mcp_server_time"
    (home / "ucp.toml").write_text(
        "builtins = false\n[exposure]\ninitial_wait = 0.3\n"
        f'[servers.time]\ncommand = "sh"\nargs = ["-c", "{slow}"]\n'
    )
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": ""}
    params = StdioServerParameters(command=venv_bin("ucp"), args=["serve", "--no-dense"], env=env)

    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        first = {t.name for t in (await client.list_tools()).tools}
        assert "time__get_current_time" not in first  # first start: nothing known yet, not waited for
        with anyio.fail_after(30):
            while "time__get_current_time" not in {t.name for t in (await client.list_tools()).tools}:
                await anyio.sleep(0.2)
    assert (home / "index" / "lists" / "time.json").exists()

    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        listed = {t.name for t in (await client.list_tools()).tools}
        assert {"time__get_current_time", "time__convert_time"} <= listed  # from the last-known lists
        result = await client.call_tool("time__get_current_time", {"timezone": "Europe/Paris"})
        assert result.structured_content is not None
        assert result.structured_content["timezone"] == "Europe/Paris"
