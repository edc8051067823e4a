"""`ucp registry ...` through CliRunner: every command, every error path, and the guarantee
that a failed command leaves the registry byte-identical."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, snapshot
from ucp.config.loader import read_config_file
from ucp.config.models import StdioServer

SEED = """\
[exposure]
mode = "search"
full_threshold = 30

[servers.toy]
type = "stdio"
command = "python"
args = ["toy.py"]

[servers.toy.env]
TOKEN = "${TOY_TOKEN}"

[servers.web]
type = "http"
url = "https://example.com/mcp"
enabled = false
"""


@pytest.fixture
def seeded(cli: Cli) -> Cli:
    cli.home.mkdir(parents=True, exist_ok=True)
    cli.registry.write_text(SEED)
    return cli


def servers(cli: Cli) -> dict[str, dict[str, object]]:
    data = tomllib.loads(cli.registry.read_text())
    result: dict[str, dict[str, object]] = data.get("servers", {})
    return result


# ---------------------------------------------------------------- add
def test_add_stdio_with_env_cwd_and_options(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "registry",
        "add",
        "time",
        "--env",
        "TZ=UTC",
        "--env",
        "KEY=${SECRET_KEY}",
        "--cwd",
        str(tmp_path),
        "--description",
        "clock",
        "--tag",
        "time",
        "--call-timeout",
        "5",
        "--",
        "mcp-server-time",
        "--local-timezone",
        "UTC",
    )
    assert result.exit_code == 0, result.output
    assert "Added server 'time'" in result.stdout
    entry = servers(cli)["time"]
    assert entry == {
        "type": "stdio",
        "description": "clock",
        "timeout": 5.0,
        "tags": ["time"],
        "command": "mcp-server-time",
        "args": ["--local-timezone", "UTC"],
        "env": {"TZ": "UTC", "KEY": "${SECRET_KEY}"},
        "cwd": str(tmp_path),
    }
    server = read_config_file(cli.registry).config.servers["time"]
    assert isinstance(server, StdioServer)
    assert server.env["KEY"] == "${SECRET_KEY}"
    assert "SECRET_KEY" in result.stderr  # the note: not set in this shell


def test_add_keeps_other_sections_and_entries(seeded: Cli) -> None:
    assert seeded("registry", "add", "git", "--", "mcp-server-git").exit_code == 0
    data = tomllib.loads(seeded.registry.read_text())
    assert data["exposure"] == {"mode": "search", "full_threshold": 30}
    assert data["servers"]["toy"]["env"] == {"TOKEN": "${TOY_TOKEN}"}
    assert data["servers"]["web"]["enabled"] is False
    assert set(data["servers"]) == {"toy", "web", "git"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--url", "https://example.com/mcp"], {"type": "http", "url": "https://example.com/mcp"}),
        (["--url", "http://127.0.0.1:9000/sse"], {"type": "sse", "url": "http://127.0.0.1:9000/sse"}),
        (
            ["--url", "https://x.dev/events", "--transport", "sse"],
            {"type": "sse", "url": "https://x.dev/events"},
        ),
        (
            ["--url", "https://api.example.com/mcp", "--header", "Authorization: Bearer ${API_TOKEN}"],
            {
                "type": "http",
                "url": "https://api.example.com/mcp",
                "headers": {"Authorization": "Bearer ${API_TOKEN}"},
            },
        ),
    ],
)
def test_add_remote(cli: Cli, args: list[str], expected: dict[str, object]) -> None:
    result = cli("registry", "add", "remote", *args)
    assert result.exit_code == 0, result.output
    assert servers(cli)["remote"] == expected


def test_add_from_catalog(cli: Cli) -> None:
    assert cli("registry", "add", "--from-catalog", "time").exit_code == 0
    assert servers(cli)["time"]["command"] == "mcp-server-time"
    result = cli(
        "registry",
        "add",
        "fs",
        "--from-catalog",
        "filesystem",
        "--env",
        "X=1",
        "--json",
        "--",
        "/data",
        "/more",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == "fs"
    fs = servers(cli)["fs"]
    assert fs["args"] == ["-y", "@modelcontextprotocol/server-filesystem", "/data", "/more"]
    assert fs["env"] == {"X": "1"}
    assert "files" in fs["tags"]  # type: ignore[operator]


def test_add_replace(seeded: Cli) -> None:
    result = seeded("registry", "add", "toy", "--replace", "--", "python", "other.py")
    assert result.exit_code == 0, result.output
    assert "Replaced" in result.stdout
    assert servers(seeded)["toy"]["args"] == ["other.py"]


BAD_ADDS = [
    pytest.param(["toy", "--", "python", "x.py"], "duplicate_server", id="duplicate"),
    pytest.param(["bad name", "--", "x"], "invalid server name", id="invalid-name"),
    pytest.param(["ucp", "--", "x"], "reserved", id="reserved-name"),
    pytest.param(["cloud", "--", "x"], "built-in", id="builtin-name"),
    pytest.param(["r", "--url", "ftp://example.com"], "invalid URL", id="url-scheme"),
    pytest.param(["r", "--url", "http://"], "invalid URL", id="url-no-host"),
    pytest.param(["r", "--url", "https://e.com/mcp", "--", "cmd"], "not both", id="command-and-url"),
    pytest.param(["r"], "nothing to run", id="nothing"),
    pytest.param(["--", "cmd"], "nothing to run", id="no-name"),
    pytest.param(["--env", "FOO=1"], "NAME", id="options-only"),
    pytest.param(["r", "--env", "NOEQUALS", "--", "cmd"], "KEY=VALUE", id="bad-env"),
    pytest.param(["r", "--env", "1X=2", "--", "cmd"], "environment variable name", id="bad-env-name"),
    pytest.param(["r", "--url", "https://e.com/mcp", "--header", "NoColon"], "Name: value", id="bad-header"),
    pytest.param(["r", "--header", "A: b", "--", "cmd"], "--url servers only", id="header-on-stdio"),
    pytest.param(["r", "--url", "https://e.com/mcp", "--env", "A=b"], "stdio servers only", id="env-on-http"),
    pytest.param(["r", "--cwd", "/definitely/not/here", "--", "cmd"], "no such directory", id="bad-cwd"),
    pytest.param(
        ["r", "--url", "https://e.com/mcp", "--transport", "carrier-pigeon"],
        "http or sse",
        id="bad-transport",
    ),
    pytest.param(["--from-catalog", "tiime"], "time", id="unknown-catalog-entry"),
    pytest.param(
        ["x", "--from-catalog", "github", "--", "extra"], "not a stdio server", id="catalog-args-on-http"
    ),
    pytest.param(
        ["--from-catalog", "time", "--url", "https://e.com"], "--from-catalog", id="catalog-and-url"
    ),
    pytest.param(
        ["--from-catalog", "filesystem", "--", "/data"], "invalid server name", id="catalog-args-without-name"
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_ADDS)
def test_add_bad_input_exits_2_and_changes_nothing(seeded: Cli, args: list[str], message: str) -> None:
    before = snapshot(seeded.registry)
    result = seeded("registry", "add", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""
    assert snapshot(seeded.registry) == before


def test_add_refuses_host_json_config(cli: Cli, tmp_path: Path) -> None:
    host = tmp_path / "claude_desktop_config.json"
    host.write_text(json.dumps({"mcpServers": {"a": {"command": "a"}}}))
    before = snapshot(host)
    result = cli("registry", "add", "--config", str(host), "new", "--", "cmd")
    assert result.exit_code == 2
    assert str(host) in result.stderr
    assert "ucp.toml" in result.stderr  # where registry changes go
    assert snapshot(host) == before
    assert not cli.registry.exists()


def test_add_to_an_invalid_registry_changes_nothing(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    cli.registry.write_text('[servers.broken]\ncommand = "x"\ntimeout = "soon"\n')
    before = snapshot(cli.registry)
    result = cli("registry", "add", "new", "--", "cmd")
    assert result.exit_code == 2
    assert "broken" in result.stderr
    assert "timeout" in result.stderr
    assert snapshot(cli.registry) == before


def test_add_with_a_config_path_writes_there(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "team" / "ucp.toml"
    assert cli("registry", "add", "--config", str(other), "t", "--", "cmd").exit_code == 0
    assert "t" in tomllib.loads(other.read_text())["servers"]
    assert not cli.registry.exists()


# ---------------------------------------------------------------- remove / enable / disable
def test_remove(seeded: Cli) -> None:
    result = seeded("registry", "remove", "toy")
    assert result.exit_code == 0
    assert set(servers(seeded)) == {"web"}


def test_remove_unknown_suggests_and_changes_nothing(seeded: Cli) -> None:
    before = snapshot(seeded.registry)
    result = seeded("registry", "remove", "tooy")
    assert result.exit_code == 2
    assert "unknown_server" in result.stderr
    assert "toy" in result.stderr
    assert snapshot(seeded.registry) == before


def test_enable_disable(seeded: Cli) -> None:
    assert seeded("registry", "enable", "web").exit_code == 0
    assert "enabled" not in servers(seeded)["web"]
    assert read_config_file(seeded.registry).config.servers["web"].enabled
    assert seeded("registry", "disable", "toy").exit_code == 0
    assert servers(seeded)["toy"]["enabled"] is False
    before = snapshot(seeded.registry)
    result = seeded("registry", "disable", "toy", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["changed"] is False
    assert snapshot(seeded.registry) == before  # a no-op does not rewrite the file


@pytest.mark.parametrize("verb", ["enable", "disable"])
def test_enable_disable_unknown(seeded: Cli, verb: str) -> None:
    before = snapshot(seeded.registry)
    result = seeded("registry", verb, "nope")
    assert result.exit_code == 2
    assert "nope" in result.stderr
    assert snapshot(seeded.registry) == before


# ---------------------------------------------------------------- list / show / catalog
def test_list_table_and_json(seeded: Cli) -> None:
    table = seeded("registry", "list")
    assert table.exit_code == 0
    assert "toy" in table.stdout
    assert "https://example.com/mcp" in table.stdout
    rows = json.loads(seeded("registry", "list", "--json").stdout)
    assert [(r["name"], r["type"], r["enabled"]) for r in rows] == [
        ("toy", "stdio", True),
        ("web", "http", False),
    ]


def test_list_empty_registry(cli: Cli) -> None:
    result = cli("registry", "list", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert not cli.registry.exists()  # reading never creates the file


def test_list_host_config_is_read_only_listing(cli: Cli, tmp_path: Path) -> None:
    host = tmp_path / "mcp.json"
    host.write_text(
        json.dumps({"servers": {"a": {"type": "stdio", "command": "a"}, "ucp": {"command": "ucp"}}})
    )
    result = cli("registry", "list", "--config", str(host))
    assert result.exit_code == 0
    assert "read-only" in result.stderr
    assert "skipped ucp" in result.stderr


def test_list_invalid_registry_exits_2(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    cli.registry.write_text("[servers.x\n")
    result = cli("registry", "list")
    assert result.exit_code == 2
    assert "invalid TOML" in result.stderr


def test_show(seeded: Cli) -> None:
    result = seeded("registry", "show", "toy")
    assert result.exit_code == 0
    assert tomllib.loads(result.stdout)["servers"]["toy"]["env"] == {"TOKEN": "${TOY_TOKEN}"}
    data = json.loads(seeded("registry", "show", "web", "--json").stdout)
    assert data == {"name": "web", "type": "http", "url": "https://example.com/mcp", "enabled": False}


def test_show_unknown(seeded: Cli) -> None:
    result = seeded("registry", "show", "tyo")
    assert result.exit_code == 2
    assert "toy" in result.stderr


def test_catalog_command(cli: Cli) -> None:
    names = {e["name"] for e in json.loads(cli("registry", "catalog", "--json").stdout)}
    assert {"time", "git", "fetch", "filesystem", "memory", "everything"} <= names
    assert "mcp-server-time" in cli("registry", "catalog").stdout


# ---------------------------------------------------------------- import
CLAUDE = {
    "mcpServers": {
        "time": {"command": "mcp-server-time", "args": ["--local-timezone", "UTC"]},
        "GitHub MCP": {
            "url": "https://api.githubcopilot.com/mcp/",
            "headers": {"Authorization": "Bearer ${env:GH}"},
        },
        "ucp": {"command": "/abs/ucp", "args": ["serve"]},
        "off": {"command": "x", "disabled": True},
        "toy": {"command": "other"},
        "broken": {"args": ["no command"]},
    },
    "globalShortcut": "Ctrl+Space",
}


def test_import_claude_desktop(seeded: Cli, tmp_path: Path) -> None:
    source = tmp_path / "claude_desktop_config.json"
    source.write_text(json.dumps(CLAUDE))
    result = seeded("registry", "import", str(source), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert sorted(report["added"]) == ["GitHub_MCP", "time"]
    assert report["renamed"] == {"GitHub MCP": "GitHub_MCP"}
    skipped = {s["name"]: s["reason"] for s in report["skipped"]}
    assert set(skipped) == {"ucp", "off", "toy", "broken"}
    assert "already registered" in skipped["toy"]
    entries = servers(seeded)
    assert entries["GitHub_MCP"]["headers"] == {"Authorization": "Bearer ${env:GH}"}
    assert entries["toy"]["command"] == "python"  # untouched


def test_import_vscode_human_output_and_replace(seeded: Cli, tmp_path: Path) -> None:
    source = tmp_path / "mcp.json"
    source.write_text(
        json.dumps(
            {
                "inputs": [],
                "servers": {
                    "toy": {"type": "stdio", "command": "node", "args": ["x.js"]},
                    "secret": {
                        "type": "http",
                        "url": "https://e.com/mcp",
                        "headers": {"Authorization": "Bearer ${input:tok}"},
                    },
                },
            }
        )
    )
    result = seeded("registry", "import", str(source), "--replace")
    assert result.exit_code == 0, result.output
    assert "Replaced: toy" in result.stdout
    assert "skipped secret" in result.stdout
    assert "${input:tok}" in result.stdout
    assert servers(seeded)["toy"]["command"] == (shutil.which("node") or "node")  # resolved for hosts


def test_import_dry_run_writes_nothing(seeded: Cli, tmp_path: Path) -> None:
    source = tmp_path / "c.json"
    source.write_text(json.dumps(CLAUDE))
    before = snapshot(seeded.registry)
    result = seeded("registry", "import", str(source), "--dry-run")
    assert result.exit_code == 0
    assert "Would add 2" in result.stdout
    assert snapshot(seeded.registry) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "not valid JSON"),
        ('["a list"]', "not a host config"),
        ('{"exposure": {}}', "not a host config"),
        (b"\xff\xfe\x00garbage", "cannot read"),
    ],
)
def test_import_bad_file_exits_2(
    seeded: Cli, tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    source = tmp_path / "in.json"
    if isinstance(content, bytes):
        source.write_bytes(content)
    elif content is not None:
        source.write_text(content)
    before = snapshot(seeded.registry)
    result = seeded("registry", "import", str(source))
    assert result.exit_code == 2
    assert message in result.stderr
    assert snapshot(seeded.registry) == before


# ---------------------------------------------------------------- export
def test_export_formats(seeded: Cli) -> None:
    claude = json.loads(seeded("registry", "export").stdout)
    assert claude == {
        "mcpServers": {
            "toy": {
                "type": "stdio",
                "command": "python",
                "args": ["toy.py"],
                "env": {"TOKEN": "${TOY_TOKEN}"},
            }
        }
    }
    cursor = json.loads(seeded("registry", "export", "--format", "cursor").stdout)
    assert cursor["mcpServers"]["toy"] == {
        "command": "python",
        "args": ["toy.py"],
        "env": {"TOKEN": "${env:TOY_TOKEN}"},
    }
    result = seeded("registry", "export", "--format", "vscode")
    assert json.loads(result.stdout)["servers"]["toy"]["type"] == "stdio"
    assert "skipped web: disabled" in result.stderr


def test_export_bad_format(seeded: Cli) -> None:
    result = seeded("registry", "export", "--format", "emacs")
    assert result.exit_code == 2
    assert "claude, cursor or vscode" in result.stderr


# ---------------------------------------------------------------- check (no real server needed)
def test_check_unknown_name(seeded: Cli) -> None:
    result = seeded("registry", "check", "nope")
    assert result.exit_code == 2
    assert "nope" in result.stderr


def test_check_nothing_enabled(cli: Cli) -> None:
    result = cli("registry", "check")
    assert result.exit_code == 0
    assert "No enabled servers" in result.stdout


@pytest.mark.integration  # real process, socket or model
def test_check_reports_a_server_that_cannot_start(cli: Cli, tmp_path: Path) -> None:
    assert cli("registry", "add", "ghost", "--", str(tmp_path / "no-such-binary")).exit_code == 0
    result = cli("registry", "check", "--json", "--timeout", "20")
    assert result.exit_code == 1
    [probe] = json.loads(result.stdout)
    assert probe["name"] == "ghost"
    assert probe["ok"] is False
    assert probe["error"]


def test_enable_of_an_enabled_server_asks_a_running_ucp_to_retry_it(seeded: Cli) -> None:
    """A parked server (issue 12 item 8) is retried by `ucp registry enable NAME`."""
    result = seeded("registry", "enable", "web", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["retry"] is True
    assert (seeded.home / "state" / "enable" / "web").exists()
