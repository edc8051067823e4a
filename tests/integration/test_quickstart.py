"""The README's quick start, played as written in an empty HOME and UCP_HOME, then the host's
side of it: the UCP entry ``ucp install`` wrote is started the way the host starts it (its own
command, args and env on top of a minimal environment: no venv on PATH, none of the shell's
variables) and calls the time server registered with a bare command name.

Test-harness only: ``PYTHONPATH`` is passed through so the checkout under test is what runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.helpers import ROOT, venv_bin

pytestmark = pytest.mark.integration
HOST_PATH = "/usr/bin:/bin"


def quickstart_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- quickstart -->\s*```bash\n(.*?)```\s*<!-- /quickstart -->", readme, re.S)
    assert block, "README.md lost its quick start block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def host_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": HOST_PATH, "HOME": str(home), **(extra or {})}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def test_the_quick_start_ends_in_a_host_that_calls_the_time_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    ucp_home = tmp_path / "ucp-home"
    # the user's existing Cursor config, which the quick start moves into UCP
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "notes": {"command": "/bin/cat", "env": {"NOTES_API_KEY": "sk-live-123"}},
                }
            },
            indent=2,
        )
    )
    venv = Path(venv_bin("ucp")).parent
    # the user's shell after `. .venv/bin/activate`: the venv first on PATH
    shell = {
        **os.environ,
        "HOME": str(home),
        "UCP_HOME": str(ucp_home),
        "PATH": f"{venv}{os.pathsep}{os.environ.get('PATH', HOST_PATH)}",
        "COLUMNS": "200",
    }
    for var in ("UCP_CONFIG", "XDG_CONFIG_HOME", "UCP_URL"):
        shell.pop(var, None)
    outputs = []
    for line in quickstart_lines():
        command = line.split("  #")[0].split(" # ")[0].strip()
        if command.startswith((". ", "source ")):
            continue  # the activation: PATH above
        proc = subprocess.run(  # as typed in a shell: bash expands ~ and the quotes
            ["/bin/bash", "-c", command], env=shell, capture_output=True, text=True, timeout=180, cwd=home
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        outputs.append((command, proc.stdout + proc.stderr))
    text = dict(outputs)
    assert (
        "time__get_current_time" in text['ucp tools search "current time in Tokyo"'].split("│")[2]
    )  # ranked first
    assert "Asia/Tokyo" in text['ucp tools call time__get_current_time --args \'{"timezone": "Asia/Tokyo"}\'']

    # the moved servers: Cursor keeps only UCP, the secret went to the 0600 .env
    assert list(json.loads(cursor.read_text())["mcpServers"]) == ["ucp"]
    registry = (ucp_home / "ucp.toml").read_text()
    assert "sk-live-123" not in registry and "${NOTES_NOTES_API_KEY}" in registry
    assert oct((ucp_home / ".env").stat().st_mode & 0o777) == "0o600"
    assert f'command = "{venv / "mcp-server-time"}"' in registry  # the bare name, made absolute

    # the host's side: Claude Desktop starts its 'ucp' entry with its own minimal environment
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    entry = json.loads(config.read_text())["mcpServers"]["ucp"]
    assert Path(entry["command"]).is_absolute()

    async def host() -> str:
        params = StdioServerParameters(
            command=entry["command"],
            args=entry["args"],
            env=host_env(home, entry.get("env")),
            cwd=str(home),
        )
        async with Client(stdio_client(params), mode="legacy", read_timeout_seconds=60) as client:
            tools = await client.list_tools()
            names = {t.name for t in tools.tools}
            assert names & {"time__get_current_time", "ucp__call_tool"}, names
            if "time__get_current_time" in names:
                result = await client.call_tool("time__get_current_time", {"timezone": "Asia/Tokyo"})
            else:
                result = await client.call_tool(
                    "ucp__call_tool",
                    {"name": "time__get_current_time", "arguments": {"timezone": "Asia/Tokyo"}},
                )
            assert not result.is_error, result
            return json.dumps(result.model_dump(mode="json"))

    async def bounded() -> str:
        with anyio.fail_after(120):
            return await host()

    answer = anyio.run(bounded)
    assert "Asia/Tokyo" in answer

    # and undo: Cursor's file comes back as it was
    undo = subprocess.run(
        [str(venv / "ucp"), "uninstall", "cursor"], env=shell, capture_output=True, text=True, timeout=120
    )
    assert undo.returncode == 0, undo.stderr
    assert json.loads(cursor.read_text())["mcpServers"]["notes"]["env"]["NOTES_API_KEY"] == "sk-live-123"
