"""Everything in examples/ parses, and the runnable example works against a real `ucp serve`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import PY, ROOT, background, free_port, venv_bin
from ucp.config.loader import read_config_file

EXAMPLES = ROOT / "examples"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("claude_desktop_config.json", "mcpServers"),
        ("claude_code_mcp.json", "mcpServers"),
        ("cursor_mcp.json", "mcpServers"),
        ("vscode_mcp.json", "vscode"),
    ],
)
def test_host_configs_parse(name: str, fmt: str) -> None:
    loaded = read_config_file(EXAMPLES / "hosts" / name)
    assert loaded.format == fmt
    assert "ucp" in {s.name for s in loaded.skipped}  # UCP never proxies itself


def test_example_registry_is_valid() -> None:
    loaded = read_config_file(EXAMPLES / "ucp.toml")
    assert set(loaded.config.servers) == {"time", "git", "remote"}
    assert loaded.config.servers["remote"].enabled is False


@pytest.mark.integration
def test_search_and_call_example_runs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "ucp.toml").write_text(
        f'builtins = false\n[servers.time]\ncommand = "{PY}"\nargs = ["-m", "mcp_server_time"]\n'
    )
    env = {**os.environ, "UCP_HOME": str(home)}
    port = free_port()
    with background(
        [
            venv_bin("ucp"),
            "serve",
            "--transport",
            "http",
            "--port",
            str(port),
            "--mode",
            "search",
            "--no-dense",
        ],
        port=port,
        env=env,
        timeout=60,
    ):
        proc = subprocess.run(
            [PY, str(EXAMPLES / "search_and_call.py"), f"http://127.0.0.1:{port}/mcp"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    top3 = [line for line in proc.stdout.splitlines() if line[:3] in ("1. ", "2. ", "3. ")]
    assert any(line.startswith(f"{i}. time__get_current_time(") for i, line in enumerate(top3, 1))
    assert "Asia/Tokyo" in proc.stdout
