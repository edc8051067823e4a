"""Every host's file: the UCP entry written in its format, read back, other entries and
comments kept; host entries converted to UCP server entries."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from ucp.config import jsonc
from ucp.config.hostfile import plan_install, servers_in
from ucp.config.hosts import HOSTS, generic_entries, host_config_path, ucp_entry
from ucp.config.loader import convert_host_entries
from ucp.config.models import HttpServer, StdioServer

HOME = Path("/home/u")

# one existing file per host, with a comment where the syntax allows one, and one server
EXISTING = {
    "claude-desktop": '{\n  "mcpServers": {\n    "time": {"command": "mcp-server-time"}\n  },\n  "other": 1\n}\n',
    "claude-code": '{\n  "numStartups": 3,\n  "mcpServers": {\n    "time": {"type": "stdio", "command": "t"}\n  }\n}\n',
    "cursor": '{\n  "mcpServers": {\n    "time": {"command": "t", "env": {"TZ": "UTC"}}\n  }\n}\n',
    "vscode": '// mine\n{\n  "servers": {\n    "time": {"type": "stdio", "command": "t"}, // clock\n  },\n}\n',
    "windsurf": '{\n  "mcpServers": {\n    "remote": {"serverUrl": "https://e.com/mcp", "headers": {"X": "y"}}\n  }\n}\n',
    "cline": '{\n  "mcpServers": {\n    "time": {"command": "t", "disabled": false, "autoApprove": []}\n  }\n}\n',
    "zed": '// Zed settings\n{\n  "theme": "One Dark",\n  "context_servers": {\n    "time": {"command": "t", "args": []}\n  }\n}\n',
    "codex": '# my codex config\nmodel = "o4"\n\n[mcp_servers.time]\ncommand = "t"\nargs = ["--x"]\n',
    "goose": "GOOSE_PROVIDER: openai\nextensions:\n  time:\n    name: time\n    type: stdio\n    cmd: t\n    args: []\n    envs: {}\n    enabled: true\n",
}
COMMENT = {"vscode": "// clock", "zed": "// Zed settings", "codex": "# my codex config"}


def _read(host: str, text: str) -> dict[str, object]:
    syntax = HOSTS[host].syntax
    if syntax == "toml":
        return tomllib.loads(text)
    if syntax == "yaml":
        return yaml.safe_load(text)
    return jsonc.loads(text)


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_install_into_each_host_keeps_the_rest(tmp_path: Path, host: str) -> None:
    path = tmp_path / "config"
    path.write_text(EXISTING[host])
    entry = ucp_entry(host, command=["/abs/ucp"], env={"UCP_HOME": "/h"})
    plan = plan_install(host, entry, path=path)
    assert plan.action == "add"
    data = _read(host, plan.after)
    servers = data[HOSTS[host].key]
    assert isinstance(servers, dict)
    assert servers["ucp"] == entry
    assert len(servers) == 2  # the existing server is kept
    if host in COMMENT:
        assert COMMENT[host] in plan.after
    assert servers_in(host, plan.after, file="x")["ucp"] == entry
    # the entry starts UCP in the host's own keys
    if host == "goose":
        assert entry["cmd"] == "/abs/ucp" and entry["envs"] == {"UCP_HOME": "/h"} and entry["type"] == "stdio"
    else:
        assert entry["command"] == "/abs/ucp" and entry["args"] == ["serve"]


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_each_hosts_entries_convert_to_ucp_servers(host: str) -> None:
    data = _read(host, EXISTING[host])
    assert isinstance(data, dict)
    servers, skipped, _ = convert_host_entries(generic_entries(host, data))
    assert not skipped, skipped
    (server,) = servers.values()
    if host == "windsurf":
        assert isinstance(server, HttpServer)
        assert server.url == "https://e.com/mcp"
        assert server.headers == {"X": "y"}
    else:
        assert isinstance(server, StdioServer)
        assert server.command in ("t", "mcp-server-time")


def test_host_specific_kinds() -> None:
    goose = {
        "extensions": {
            "developer": {"type": "builtin", "name": "developer", "enabled": True},
            "off": {"type": "stdio", "cmd": "x", "enabled": False},
            "remote": {"type": "streamable_http", "uri": "https://e.com/mcp"},
        }
    }
    servers, skipped, _ = convert_host_entries(generic_entries("goose", goose))
    assert {s.name: s.reason for s in skipped} == {
        "developer": "a goose builtin extension (only stdio and remote ones move)",
        "off": "disabled in the host config",
    }
    assert isinstance(servers["remote"], HttpServer)
    zed_old = {"context_servers": {"z": {"command": {"path": "/bin/z", "args": ["a"], "env": {"K": "v"}}}}}
    servers, _, _ = convert_host_entries(generic_entries("zed", zed_old))
    assert servers["z"] == StdioServer(name="z", command="/bin/z", args=("a",), env={"K": "v"})
    cline = {"mcpServers": {"h": {"type": "streamableHttp", "url": "https://e.com/mcp"}}}
    servers, _, _ = convert_host_entries(generic_entries("cline", cline))
    assert isinstance(servers["h"], HttpServer)
    codex = {"mcp_servers": {"c": {"url": "https://e.com/mcp", "http_headers": {"A": "b"}, "enabled": False}}}
    _, skipped, _ = convert_host_entries(generic_entries("codex", codex))
    assert skipped[0].reason == "disabled in the host config"


@pytest.mark.parametrize(
    ("host", "platform", "env", "expected"),
    [
        ("windsurf", "linux", {}, "/home/u/.codeium/windsurf/mcp_config.json"),
        ("windsurf", "win32", {"APPDATA": "/w"}, "/home/u/.codeium/windsurf/mcp_config.json"),
        (
            "cline",
            "linux",
            {},
            "/home/u/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        ),
        (
            "cline",
            "darwin",
            {},
            "/home/u/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        ),
        ("zed", "linux", {"XDG_CONFIG_HOME": "/xdg"}, "/xdg/zed/settings.json"),
        ("zed", "darwin", {}, "/home/u/.config/zed/settings.json"),
        ("zed", "win32", {"APPDATA": "/w"}, "/w/Zed/settings.json"),
        ("codex", "linux", {}, "/home/u/.codex/config.toml"),
        ("codex", "linux", {"CODEX_HOME": "/c"}, "/c/config.toml"),
        ("goose", "linux", {}, "/home/u/.config/goose/config.yaml"),
        ("goose", "win32", {"APPDATA": "/w"}, "/w/Block/goose/config/config.yaml"),
    ],
)
def test_new_host_paths(host: str, platform: str, env: dict[str, str], expected: str) -> None:
    assert host_config_path(host, platform=platform, env=env, home=HOME) == Path(expected)


def test_project_files() -> None:
    assert host_config_path("zed", project=Path("/p")) == Path("/p/.zed/settings.json")
    assert host_config_path("codex", project=Path("/p")) == Path("/p/.codex/config.toml")


def test_http_entries_per_host() -> None:
    assert ucp_entry("windsurf", http_url="http://127.0.0.1:1/mcp") == {"serverUrl": "http://127.0.0.1:1/mcp"}
    assert ucp_entry("codex", http_url="http://h/mcp", headers={"A": "b"}) == {
        "url": "http://h/mcp",
        "http_headers": {"A": "b"},
    }
    for host in ("zed", "goose", "cline"):
        with pytest.raises(Exception, match="stdio"):
            ucp_entry(host, http_url="http://h/mcp")


def test_every_host_format_is_documented_with_its_source() -> None:
    readme = (Path(__file__).resolve().parents[2] / "registry" / "README.md").read_text(encoding="utf-8")
    for host in HOSTS.values():
        assert host.docs in readme, f"registry/README.md does not cite {host.title}'s documentation"
