"""Host config paths, the UCP entry, merging it in, and exporting the registry as a host config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ucp.config.hostfile import apply_install, plan_install
from ucp.config.hosts import (
    HOSTS,
    export_servers,
    host_config_path,
    snippet,
    ucp_command,
    ucp_entry,
)
from ucp.config.models import Config, HttpServer, StdioServer, UtcpServer
from ucp.errors import ConfigError, RegistryError

HOME = Path("/home/u")


@pytest.mark.parametrize(
    ("host", "platform", "env", "expected"),
    [
        (
            "claude-desktop",
            "darwin",
            {},
            "/home/u/Library/Application Support/Claude/claude_desktop_config.json",
        ),
        (
            "claude-desktop",
            "win32",
            {"APPDATA": "/w/AppData/Roaming"},
            "/w/AppData/Roaming/Claude/claude_desktop_config.json",
        ),
        ("claude-desktop", "win32", {}, "/home/u/AppData/Roaming/Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux", {}, "/home/u/.config/Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/Claude/claude_desktop_config.json"),
        ("claude-code", "linux", {}, "/home/u/.claude.json"),
        ("claude-code", "darwin", {}, "/home/u/.claude.json"),
        ("cursor", "win32", {"APPDATA": "/w"}, "/home/u/.cursor/mcp.json"),
        ("vscode", "linux", {}, "/home/u/.config/Code/User/mcp.json"),
        ("vscode", "darwin", {}, "/home/u/Library/Application Support/Code/User/mcp.json"),
        ("vscode", "win32", {"APPDATA": "/w"}, "/w/Code/User/mcp.json"),
    ],
)
def test_user_paths(host: str, platform: str, env: dict[str, str], expected: str) -> None:
    assert host_config_path(host, platform=platform, env=env, home=HOME) == Path(expected)


@pytest.mark.parametrize(
    ("host", "expected"),
    [("claude-code", "/p/.mcp.json"), ("cursor", "/p/.cursor/mcp.json"), ("vscode", "/p/.vscode/mcp.json")],
)
def test_project_paths(host: str, expected: str) -> None:
    assert host_config_path(host, project=Path("/p"), home=HOME) == Path(expected)


def test_home_comes_from_path_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert host_config_path("cursor") == tmp_path / ".cursor" / "mcp.json"


def test_bad_host_and_project() -> None:
    with pytest.raises(ConfigError):
        host_config_path("emacs")
    with pytest.raises(ConfigError, match="per-project"):
        host_config_path("claude-desktop", project=Path("/p"))


def test_entries_per_host() -> None:
    cmd = ["/abs/ucp"]
    assert ucp_entry("claude-desktop", command=cmd, env={}) == {"command": "/abs/ucp", "args": ["serve"]}
    assert ucp_entry("cursor", command=cmd, env={}) == {"command": "/abs/ucp", "args": ["serve"]}
    assert ucp_entry("vscode", command=cmd, env={"UCP_HOME": "/h"}) == {
        "type": "stdio",
        "command": "/abs/ucp",
        "args": ["serve"],
        "env": {"UCP_HOME": "/h"},
    }
    assert ucp_entry(
        "claude-code", command=["/py", "-m", "ucp"], env={"UCP_CONFIG": "/c.toml", "UCP_HOME": ""}
    ) == {"type": "stdio", "command": "/py", "args": ["-m", "ucp", "serve"], "env": {"UCP_CONFIG": "/c.toml"}}
    assert ucp_entry("cursor", http_url="http://127.0.0.1:1/mcp") == {"url": "http://127.0.0.1:1/mcp"}
    assert ucp_entry("claude-code", http_url="http://h/mcp", headers={"A": "b"}) == {
        "type": "http",
        "url": "http://h/mcp",
        "headers": {"A": "b"},
    }
    with pytest.raises(ConfigError):
        ucp_entry("claude-desktop", http_url="http://h/mcp")
    with pytest.raises(ConfigError):
        ucp_entry("vscode", http_url="h/mcp")
    assert snippet("vscode", {"x": 1}) == {"servers": {"ucp": {"x": 1}}}
    assert {
        "claude-desktop",
        "claude-code",
        "cursor",
        "vscode",
        "windsurf",
        "zed",
        "codex",
        "goose",
        "cline",
    } == set(HOSTS)


def test_ucp_command_is_absolute() -> None:
    cmd = ucp_command()
    assert Path(cmd[0]).is_absolute()
    assert Path(cmd[0]).exists()


ENTRY = {"command": "/abs/ucp", "args": ["serve"]}


def test_plan_and_apply_on_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    original = json.dumps({"zz": 1, "mcpServers": {"b": {"command": "b"}}, "aa": [1, 2]}, indent=4)
    path.write_text(original)
    plan = plan_install("cursor", ENTRY, path=path)
    assert plan.action == "add"
    assert path.read_text() == original  # planning writes nothing
    assert '+        "ucp": {' in plan.diff()  # 4-space indentation kept
    backup = apply_install(plan, now=0)
    assert backup is not None
    assert backup.read_text() == original
    data = json.loads(path.read_text())
    assert list(data) == ["zz", "mcpServers", "aa"]  # key order kept
    assert data["mcpServers"] == {"b": {"command": "b"}, "ucp": ENTRY}
    again = plan_install("cursor", ENTRY, path=path)
    assert again.action == "unchanged"
    assert apply_install(again) is None


def test_backups_never_overwrite_each_other(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text("{}")
    apply_install(plan_install("cursor", ENTRY, path=path), now=0)
    apply_install(plan_install("cursor", {"command": "/other"}, path=path, force=True), now=0)
    assert len(list(tmp_path.glob("mcp.json.bak-*"))) == 2


def test_new_file_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "mcp.json"
    plan = plan_install("vscode", ENTRY, path=path)
    assert plan.before is None
    assert apply_install(plan) is None  # nothing to back up
    assert json.loads(path.read_text()) == {"servers": {"ucp": ENTRY}}
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    assert plan_install("vscode", ENTRY, path=empty).action == "add"


def test_conflict_and_force(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"mcpServers": {"ucp": {"command": "old"}}}))
    with pytest.raises(RegistryError, match="--force"):
        plan_install("claude-desktop", ENTRY, path=path)
    plan = plan_install("claude-desktop", ENTRY, path=path, force=True)
    assert plan.action == "update"


@pytest.mark.parametrize("content", ["{,}", "[]", '"s"', '{"servers": 3}'])
def test_unusable_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(content)
    with pytest.raises(ConfigError):
        plan_install("vscode", ENTRY, path=path)


def test_apply_refuses_a_file_changed_since_planning(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text("{}")
    plan = plan_install("cursor", ENTRY, path=path)
    path.write_text('{"mcpServers": {"new": {"command": "n"}}}')
    with pytest.raises(RegistryError, match="changed"):
        apply_install(plan)
    assert "new" in path.read_text()


def test_export_servers() -> None:
    config = Config(
        servers={
            "s": StdioServer(name="s", command="run", args=("${A}",), env={"K": "${TOKEN}"}, cwd="/w"),
            "h": HttpServer(name="h", url="https://e.com/mcp", headers={"Authorization": "Bearer ${T}"}),
            "off": StdioServer(name="off", command="x", enabled=False),
            "u": UtcpServer(name="u", manual="https://e.com/utcp"),
        }
    )
    claude, skipped = export_servers(config, "claude")
    assert claude["mcpServers"]["s"] == {
        "type": "stdio",
        "command": "run",
        "args": ["${A}"],
        "env": {"K": "${TOKEN}"},
        "cwd": "/w",
    }
    assert {s.name for s in skipped} == {"off", "u"}
    cursor, _ = export_servers(config, "cursor")
    assert cursor["mcpServers"]["h"] == {
        "url": "https://e.com/mcp",
        "headers": {"Authorization": "Bearer ${env:T}"},
    }
    assert cursor["mcpServers"]["s"]["args"] == ["${env:A}"]
    vscode, _ = export_servers(config, "vscode")
    assert vscode["servers"]["h"]["type"] == "http"
    assert set(vscode["servers"]) == {"s", "h"}
