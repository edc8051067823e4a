"""`ucp serve` over stdio answers a returning host's handshake from the last start (frontend/early.py),
with real hosts: the MCP SDK client and @modelcontextprotocol/inspector-cli (a 2025-era JS client)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.helpers import PY, SERVERS, venv_bin
from tests.integration.test_serve import _inspector

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


def _home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "ucp.toml").write_text(
        f'[servers.time]\ncommand = "{PY}"\nargs = ["-m", "mcp_server_time"]\n'
        f'\n[servers.toy]\ncommand = "{PY}"\nargs = ["{SERVERS / "toy_server.py"}"]\n'
    )
    return home, {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_LOG_LEVEL": "info"}


def _events(home: Path, name: str) -> list[dict[str, Any]]:
    out = []
    for line in (home / "logs" / "ucp.log").read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == name:
            out.append(event)
    return out


async def _start(params: StdioServerParameters, mode: str = "legacy") -> tuple[list[str], dict[str, Any]]:
    async with Client(params, mode=mode, read_timeout_seconds=60) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        result = await client.call_tool("time__get_current_time", {"timezone": "Asia/Tokyo"})
        assert result.structured_content is not None
        return names, result.structured_content


@pytest.mark.parametrize(("mode", "handshake"), [("legacy", "initialize"), ("auto", "server/discover")])
async def test_a_restart_answers_the_handshake_and_tools_list_itself_and_then_serves(
    tmp_path: Path, mode: str, handshake: str
) -> None:
    home, env = _home(tmp_path)
    params = StdioServerParameters(command=venv_bin("ucp"), args=["serve", "--no-dense"], env=env)
    first, _ = await _start(params, mode)  # fetches the servers' lists
    second, _ = await _start(params, mode)  # answers from them, and records its handshake
    assert [e["answered_early"] for e in _events(home, "serving")] == [[], []]

    third, called = await _start(params, mode)
    assert (
        third == second == first
        and "time__get_current_time" in third
        and any(n.startswith("cloud__") for n in third)
    )
    assert called["timezone"] == "Asia/Tokyo"  # the SDK took over: calls work as ever
    assert _events(home, "serving")[-1]["answered_early"] == [handshake, "tools/list"]
    assert [(e["request"], e["same"]) for e in _events(home, "stdio_early_answer")] == [
        (handshake, True),
        ("tools/list", True),
    ]

    # a changed registry is a miss: the SDK answers, with the new list
    text = (home / "ucp.toml").read_text()
    (home / "ucp.toml").write_text("builtins = false\n" + text)
    changed, _ = await _start(params, mode)
    assert _events(home, "serving")[-1]["answered_early"] == []
    assert not any(n.startswith("cloud__") for n in changed) and "time__get_current_time" in changed


async def test_an_out_of_date_answer_is_corrected_with_list_changed(tmp_path: Path) -> None:
    home, env = _home(tmp_path)
    params = StdioServerParameters(command=venv_bin("ucp"), args=["serve", "--no-dense"], env=env)
    await _start(params)
    await _start(params)
    entry = max((home / "index" / "early").glob("*.json"), key=lambda p: p.stat().st_mtime)  # the 2nd start's
    stale = json.loads(entry.read_text())
    stale["tools"]["tools"] = [t for t in stale["tools"]["tools"] if t["name"] != "toy__echo"]
    entry.write_text(json.dumps(stale))

    async with Client(params, mode="legacy", read_timeout_seconds=60) as client:
        told = {t.name for t in (await client.list_tools()).tools}
        assert "toy__echo" not in told  # what the last start answered (here: tampered with)
        again = {t.name for t in (await client.list_tools()).tools}
        assert "toy__echo" in again  # the SDK's own answer
    assert ("tools/list", False) in [(e["request"], e["same"]) for e in _events(home, "stdio_early_answer")]
    assert "toy__echo" in {t["name"] for t in json.loads(entry.read_text())["tools"]["tools"]}  # re-recorded


def test_inspector_cli_gets_the_same_answers_from_a_restart(tmp_path: Path) -> None:
    home, env = _home(tmp_path)
    argv = [venv_bin("ucp"), "serve", "--no-dense", "--method", "tools/list"]
    lists = [sorted(t["name"] for t in _inspector(argv, env)["tools"]) for _ in range(3)]
    assert lists[0] == lists[1] == lists[2] and "toy__echo" in lists[2]
    assert [e["answered_early"] for e in _events(home, "serving")][-1] == ["initialize", "tools/list"]
    called = _inspector(
        [
            venv_bin("ucp"),
            "serve",
            "--no-dense",
            "--method",
            "tools/call",
            "--tool-name",
            "toy__echo",
            "--tool-arg",
            "text=hi",
        ],
        env,
    )
    assert called.get("isError") in (None, False)
