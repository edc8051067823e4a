"""Config loading: UCP's TOML registry and host JSON files, with errors naming file, entry, field."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from ucp.config.loader import (
    config_to_toml_data,
    convert_host_entries,
    env_refs,
    expand_env,
    parse_server,
    read_config_file,
    sanitize_server_name,
)
from ucp.config.models import HttpServer, SseServer, StdioServer, UtcpServer
from ucp.errors import ConfigError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    loaded = read_config_file(tmp_path / "absent.toml")
    assert loaded.format == "empty"
    assert loaded.config.servers == {}
    assert loaded.config.builtins is True


def test_toml_registry_with_every_transport(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ucp.toml",
        """
[servers.time]
command = "mcp-server-time"
args = ["--local-timezone", "UTC"]
env = { TOKEN = "${MY_TOKEN}" }
timeout = 12.5
max_concurrency = 3

[servers.remote]
type = "http"
url = "https://example.com/mcp"
headers = { Authorization = "Bearer ${API_KEY}" }

[servers.legacy]
url = "https://example.com/sse"

[servers.weather]
type = "utcp"
manual = "manuals/weather.json"

[exposure]
mode = "search"
full_threshold = 10
""",
    )
    loaded = read_config_file(path)
    servers = loaded.config.servers
    assert isinstance(servers["time"], StdioServer)
    assert servers["time"].timeout == 12.5
    assert servers["time"].max_concurrency == 3
    assert servers["time"].env == {
        "TOKEN": "${MY_TOKEN}"
    }  # kept verbatim: secrets are expanded at connect time
    assert isinstance(servers["remote"], HttpServer)
    assert isinstance(servers["legacy"], SseServer)  # inferred from the /sse path
    assert isinstance(servers["weather"], UtcpServer)
    assert loaded.config.exposure.mode == "search"
    assert loaded.writable


@pytest.mark.parametrize(
    ("text", "entry", "field"),
    [
        ('[servers.a]\ncommand = "x"\ntimeout = "soon"\n', "a", "timeout"),
        ('[servers.b]\ntype = "http"\nurl = "ftp://nope"\n', "b", "url"),
        ('[servers.c]\nargs = ["x"]\n', "c", "command"),
        ('[servers.d]\ncommand = "x"\nbogus = 1\n', "d", "bogus"),
        ('[servers."bad.name"]\ncommand = "x"\n', "bad.name", "name"),
        ('[servers.ucp]\ncommand = "x"\n', "ucp", "name"),
        ('[servers.cloud]\ncommand = "x"\n', "cloud", "name"),
        ('[servers.e]\ncommand = "x"\nmax_concurrency = 0\n', "e", "max_concurrency"),
    ],
)
def test_bad_entries_name_file_entry_and_field(tmp_path: Path, text: str, entry: str, field: str) -> None:
    path = write(tmp_path, "ucp.toml", text)
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    err = info.value
    assert err.code == "config_invalid"
    assert err.file == str(path)
    assert err.entry == entry
    assert err.field == field


def test_unknown_section_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_config_file(write(tmp_path, "a.toml", "[surprise]\nx = 1\n"))
    assert info.value.field == "surprise"
    with pytest.raises(ConfigError) as info2:
        read_config_file(write(tmp_path, "b.toml", "[servers.x\n"))
    assert "TOML" in info2.value.message
    with pytest.raises(ConfigError) as info3:
        read_config_file(write(tmp_path, "c.json", '{"mcpServers": {'))
    assert "line 1" in info3.value.message


def test_bad_settings_value_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        read_config_file(write(tmp_path, "a.toml", '[exposure]\nmode = "sometimes"\n'))
    assert info.value.field == "exposure.mode"


def test_claude_desktop_json_is_accepted_as_is(tmp_path: Path) -> None:
    data = {
        "mcpServers": {
            "time": {"command": "uvx", "args": ["mcp-server-time"]},
            "GitHub MCP": {
                "url": "https://api.example.com/mcp",
                "headers": {"Authorization": "Bearer ${env:GH}"},
            },
            "ucp": {"command": "/usr/bin/ucp", "args": ["serve"]},
            "off": {"command": "x", "disabled": True},
            "broken": {"args": ["no command"]},
        }
    }
    loaded = read_config_file(write(tmp_path, "claude_desktop_config.json", json.dumps(data)))
    assert loaded.format == "mcpServers"
    assert not loaded.writable
    assert set(loaded.config.servers) == {"time", "GitHub_MCP"}
    assert loaded.renamed == {"GitHub MCP": "GitHub_MCP"}
    skipped = {s.name: s.reason for s in loaded.skipped}
    assert set(skipped) == {"ucp", "off", "broken"}
    assert "command" in skipped["broken"]


def test_vscode_servers_json(tmp_path: Path) -> None:
    data = {
        "inputs": [],
        "servers": {
            "memory": {
                "type": "stdio",
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-memory"],
            },
            "web": {"type": "http", "url": "http://localhost:3001/mcp"},
            "old": {"type": "sse", "url": "http://localhost:3002/sse"},
        },
    }
    loaded = read_config_file(write(tmp_path, "mcp.json", json.dumps(data)))
    assert loaded.format == "vscode"
    assert isinstance(loaded.config.servers["web"], HttpServer)
    assert isinstance(loaded.config.servers["old"], SseServer)


def test_env_expansion() -> None:
    env = {"A": "1", "B": "two"}
    assert expand_env("x-${A}-${env:B}", env) == "x-1-two"
    assert env_refs("${A} and ${env:B}") == ["A", "B"]
    with pytest.raises(ConfigError) as info:
        expand_env("${MISSING}", env, where="servers.x.env.K")
    assert info.value.field == "servers.x.env.K"
    assert "MISSING" in info.value.message


def test_sanitize_and_convert() -> None:
    assert sanitize_server_name("my.server name") == "my_server_name"
    assert sanitize_server_name("ucp") == "ucp-server"
    servers, skipped, renamed = convert_host_entries({"a__b": {"command": "x"}})
    assert "a_b" in servers
    assert renamed == {"a__b": "a_b"}
    assert not skipped


def test_toml_round_trip_keeps_references(tmp_path: Path) -> None:
    import tomli_w

    path = write(
        tmp_path,
        "ucp.toml",
        '[servers.t]\ncommand = "x"\nenv = { K = "${SECRET}" }\n\n[exposure]\nmode = "dynamic"\n',
    )
    config = read_config_file(path).config
    data = config_to_toml_data(config)
    again = tmp_path / "again.toml"
    again.write_text(tomli_w.dumps(data))
    reloaded = read_config_file(again).config
    assert reloaded == config
    assert tomllib.loads(again.read_text())["servers"]["t"]["env"] == {"K": "${SECRET}"}


def test_parse_server_rejects_mismatched_name() -> None:
    with pytest.raises(ConfigError) as info:
        parse_server("a", {"name": "b", "command": "x"})
    assert info.value.field == "name"
