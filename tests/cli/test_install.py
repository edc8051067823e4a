"""`ucp install HOST` through CliRunner, against host config files in a temporary HOME."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli, snapshot
from ucp.config.hosts import ucp_command

CLAUDE_DESKTOP = Path(".config") / "Claude" / "claude_desktop_config.json"
EXISTING: dict[str, Any] = {
    "mcpServers": {"other": {"command": "npx", "args": ["-y", "some-server"], "env": {"K": "v"}}},
    "globalShortcut": "Ctrl+Space",
}


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def test_install_claude_desktop_keeps_everything_and_backs_up(cli: Cli) -> None:
    path = write(cli.user_home / CLAUDE_DESKTOP, EXISTING)
    original = path.read_bytes()
    result = cli("install", "claude-desktop")
    assert result.exit_code == 0, result.output
    data = json.loads(path.read_text())
    assert data["mcpServers"]["other"] == EXISTING["mcpServers"]["other"]
    assert data["globalShortcut"] == "Ctrl+Space"
    assert data["mcpServers"]["ucp"] == {
        "command": ucp_command()[0],
        "args": ["serve"],
        "env": {"UCP_HOME": str(cli.home)},
    }
    assert Path(data["mcpServers"]["ucp"]["command"]).is_absolute()
    backups = list(path.parent.glob("claude_desktop_config.json.bak-*"))
    assert len(backups) == 1
    assert backups[0].read_bytes() == original
    again = cli("install", "claude-desktop")
    assert again.exit_code == 0
    assert "nothing changed" in again.stdout
    assert len(list(path.parent.glob("*.bak-*"))) == 1


def test_install_without_ucp_home_has_no_env(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UCP_HOME")
    assert cli("install", "cursor").exit_code == 0
    entry = json.loads((cli.user_home / ".cursor" / "mcp.json").read_text())["mcpServers"]["ucp"]
    assert "env" not in entry
    assert "type" not in entry


def test_dry_run_prints_a_diff_and_writes_nothing(cli: Cli) -> None:
    path = write(cli.user_home / CLAUDE_DESKTOP, EXISTING)
    before = snapshot(path)
    result = cli("install", "claude-desktop", "--dry-run")
    assert result.exit_code == 0
    assert "Dry run" in result.stdout
    assert '+    "ucp": {' in result.stdout
    assert snapshot(path) == before
    assert list(path.parent.iterdir()) == [path]


def test_dry_run_on_a_missing_file_creates_nothing(cli: Cli) -> None:
    result = cli("install", "vscode", "--dry-run", "--json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["action"] == "add"
    assert out["file"] == str(cli.user_home / ".config" / "Code" / "User" / "mcp.json")
    assert '"type": "stdio"' in out["diff"]
    assert not (cli.user_home / ".config").exists()


@pytest.mark.parametrize(
    ("host", "relative", "key"),
    [
        ("claude-code", ".claude.json", "mcpServers"),
        ("cursor", ".cursor/mcp.json", "mcpServers"),
        ("vscode", ".config/Code/User/mcp.json", "servers"),
    ],
)
def test_install_user_scope(cli: Cli, host: str, relative: str, key: str) -> None:
    result = cli("install", host, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads((cli.user_home / relative).read_text())
    assert list(data) == [key]
    assert data[key]["ucp"]["args"] == ["serve"]


@pytest.mark.parametrize(
    ("host", "relative"),
    [("claude-code", ".mcp.json"), ("cursor", ".cursor/mcp.json"), ("vscode", ".vscode/mcp.json")],
)
def test_install_project_scope(cli: Cli, tmp_path: Path, host: str, relative: str) -> None:
    assert cli("install", host, "--project").exit_code == 0
    assert (tmp_path / relative).exists()  # tmp_path is the working directory


def test_install_claude_code_keeps_its_other_state(cli: Cli) -> None:
    path = write(
        cli.user_home / ".claude.json",
        {
            "numStartups": 7,
            "projects": {"/x": {"mcpServers": {}}},
            "mcpServers": {"a": {"type": "stdio", "command": "a"}},
        },
    )
    assert cli("install", "claude-code").exit_code == 0
    data = json.loads(path.read_text())
    assert data["numStartups"] == 7
    assert data["projects"] == {"/x": {"mcpServers": {}}}
    assert set(data["mcpServers"]) == {"a", "ucp"}
    assert data["mcpServers"]["ucp"]["type"] == "stdio"


def test_install_http_entry(cli: Cli) -> None:
    result = cli(
        "install", "vscode", "--http", "http://127.0.0.1:8765/mcp", "-H", "Authorization: Bearer ${input:k}"
    )
    assert result.exit_code == 0, result.output
    entry = json.loads((cli.user_home / ".config/Code/User/mcp.json").read_text())["servers"]["ucp"]
    assert entry == {
        "type": "http",
        "url": "http://127.0.0.1:8765/mcp",
        "headers": {"Authorization": "Bearer ${input:k}"},
    }


def test_print_snippet_touches_nothing(cli: Cli) -> None:
    result = cli("install", "--print", "cursor")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["mcpServers"]["ucp"]["args"] == ["serve"]
    assert not (cli.user_home / ".cursor").exists()


def test_conflicting_entry_needs_force(cli: Cli) -> None:
    path = write(
        cli.user_home / ".cursor" / "mcp.json",
        {"mcpServers": {"ucp": {"command": "/old/ucp", "args": ["serve"]}}},
    )
    before = snapshot(path)
    result = cli("install", "cursor")
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert snapshot(path) == before
    assert cli("install", "cursor", "--force").exit_code == 0
    assert json.loads(path.read_text())["mcpServers"]["ucp"]["command"] == ucp_command()[0]
    assert len(list(path.parent.glob("mcp.json.bak-*"))) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"servers": {"a": 1,,}}', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"servers": []}', "'servers' must be an object"),
    ],
)
def test_unusable_host_file_exits_2_unchanged(cli: Cli, content: str, message: str) -> None:
    path = cli.user_home / ".config" / "Code" / "User" / "mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    result = cli("install", "vscode")
    assert result.exit_code == 2
    assert message in result.stderr
    assert path.read_text() == content
    assert list(path.parent.iterdir()) == [path]


@pytest.mark.parametrize(
    "args",
    [
        ["claude-desktop", "--project"],
        ["claude-desktop", "--http", "http://127.0.0.1:8765/mcp"],
        ["vscode", "--http", "not a url"],
        ["vscode", "--http", "http://127.0.0.1:1/mcp", "-H", "no colon"],
        ["emacs"],
    ],
)
def test_bad_input_exits_2(cli: Cli, args: list[str]) -> None:
    result = cli("install", *args)
    assert result.exit_code == 2
    assert not any(cli.user_home.rglob("*.json"))


def test_install_to_explicit_file(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "custom" / "claude.json"
    assert cli("install", "claude-code", "--file", str(target)).exit_code == 0
    assert "ucp" in json.loads(target.read_text())["mcpServers"]


# ---------------------------------------------------------------- --list, --take-over, uninstall
def test_install_list_shows_hosts_and_which_use_ucp(cli: Cli) -> None:
    write(cli.user_home / ".cursor" / "mcp.json", {"mcpServers": {"a": {"command": "a"}}})
    assert cli("install", "claude-code").exit_code == 0
    result = cli("install", "--list", "--json")
    assert result.exit_code == 0, result.output
    rows = {(r["host"], r["scope"]): r for r in json.loads(result.stdout)}
    assert {h for h, _ in rows} >= {
        "claude-desktop",
        "claude-code",
        "cursor",
        "vscode",
        "windsurf",
        "zed",
        "codex",
        "goose",
        "cline",
    }
    assert rows[("cursor", "user")]["present"] and rows[("cursor", "user")]["servers"] == 1
    assert not rows[("cursor", "user")]["uses_ucp"]
    assert rows[("claude-code", "user")]["uses_ucp"]
    assert not rows[("zed", "user")]["present"]
    table = cli("install", "--list")
    assert table.exit_code == 0 and "windsurf" in table.stdout
    assert cli("install").exit_code == 2  # no host, no --list


def test_take_over_then_uninstall_restores_exactly(cli: Cli) -> None:
    path = cli.user_home / ".cursor" / "mcp.json"
    path.parent.mkdir(parents=True)
    original = (
        '{\n  "mcpServers": {\n    "gh": {"url": "https://api.example.com/mcp", '
        '"headers": {"Authorization": "Bearer ghp_abc"}},\n    "sh": {"command": "/bin/sh"}\n  }\n}\n'
    )
    path.write_text(original)
    result = cli("install", "cursor", "--take-over")
    assert result.exit_code == 0, result.output
    assert "Moved 2 server(s)" in result.stdout
    assert "1 secret(s)" in result.stdout and "${GH_AUTHORIZATION}" in result.stdout
    assert "ghp_abc" not in result.output  # the secret itself is never printed
    assert "undo: ucp uninstall cursor" in result.stderr
    assert list(json.loads(path.read_text())["mcpServers"]) == ["ucp"]
    assert "ghp_abc" not in cli.registry.read_text()
    listed = json.loads(cli("registry", "list", "--json").stdout)
    assert {s["name"] for s in listed} == {"gh", "sh"}
    undo = cli("uninstall", "cursor")
    assert undo.exit_code == 0, undo.output
    assert "restored from its backup" in undo.stdout
    assert path.read_text() == original
    assert cli("uninstall", "cursor").exit_code == 0  # nothing left to do
    assert "does not use UCP" in cli("uninstall", "cursor").stdout


def test_plain_install_uninstall_and_dry_runs(cli: Cli) -> None:
    path = cli.user_home / ".codex" / "config.toml"
    path.parent.mkdir(parents=True)
    original = '# codex\nmodel = "o4"\n'
    path.write_text(original)
    dry = cli("install", "codex", "--take-over", "--dry-run")
    assert dry.exit_code == 0 and path.read_text() == original
    assert cli("install", "codex").exit_code == 0
    assert "[mcp_servers.ucp]" in path.read_text() and "# codex" in path.read_text()
    preview = cli("uninstall", "codex", "--dry-run")
    assert preview.exit_code == 0 and "-[mcp_servers.ucp]" in preview.stdout
    assert "[mcp_servers.ucp]" in path.read_text()
    assert cli("uninstall", "codex").exit_code == 0
    assert path.read_text() == original


def test_registry_import_move(cli: Cli) -> None:
    path = cli.user_home / ".config" / "Code" / "User" / "mcp.json"
    path.parent.mkdir(parents=True)
    original = '// comments survive\n{\n  "servers": {\n    "sh": {"type": "stdio", "command": "/bin/sh"},\n  },\n}\n'
    path.write_text(original)
    result = cli("registry", "import", "--move", str(path))
    assert result.exit_code == 0, result.output
    assert "now runs only UCP" in result.stdout
    text = path.read_text()
    assert "// comments survive" in text and '"ucp"' in text and '"sh"' not in text
    assert "[servers.sh]" in cli.registry.read_text()
    assert cli("uninstall", "vscode").exit_code == 0
    assert path.read_text() == original


def test_plain_import_says_the_host_still_runs_them(cli: Cli, tmp_path: Path) -> None:
    source = write(tmp_path / "x.json", {"mcpServers": {"sh": {"command": "sh", "env": {"API_KEY": "k1"}}}})
    result = cli("registry", "import", str(source))
    assert result.exit_code == 0, result.output
    assert "--move" in result.stdout
    assert "Moved 1 secret(s)" in result.stdout
    assert (cli.home / ".env").read_text().count("SH_API_KEY") == 1
    assert "/sh" in cli.registry.read_text()  # the bare command resolved


def test_import_reads_each_hosts_format_by_its_file(cli: Cli, tmp_path: Path) -> None:
    codex = tmp_path / "config.toml"
    codex.write_text('[mcp_servers.c1]\ncommand = "/bin/sh"\nargs = ["-c", "x"]\n')
    goose = tmp_path / "config.yaml"
    goose.write_text(
        "extensions:\n  g1:\n    type: stdio\n    cmd: /bin/sh\n    args: []\n    enabled: true\n"
    )
    zed = tmp_path / "settings.json"
    zed.write_text('// zed\n{"context_servers": {"z1": {"command": "/bin/sh", "args": []}}}\n')
    for source in (codex, goose, zed):
        result = cli("registry", "import", str(source), "--json")
        assert result.exit_code == 0, result.output
    listed = {s["name"] for s in json.loads(cli("registry", "list", "--json").stdout)}
    assert listed == {"c1", "g1", "z1"}
    assert cli("registry", "import", str(zed), "--host", "emacs").exit_code == 2
