"""The hosts UCP installs into: where each keeps its MCP servers, in which format, and the
entry that runs UCP — and the way back, a host's entries as UCP server entries.

Nine hosts, each from its own documentation (cited in ``registry/README.md``):

| host | file (user scope; ``project`` scope) | syntax | servers under |
|---|---|---|---|
| claude-desktop | ``<app data>/Claude/claude_desktop_config.json`` | JSON | ``mcpServers`` |
| claude-code | ``~/.claude.json``; ``<project>/.mcp.json`` | JSON | ``mcpServers`` (typed) |
| cursor | ``~/.cursor/mcp.json``; ``<project>/.cursor/mcp.json`` | JSON | ``mcpServers`` |
| vscode | ``<app data>/Code/User/mcp.json``; ``<project>/.vscode/mcp.json`` | JSONC | ``servers`` (typed) |
| windsurf | ``~/.codeium/windsurf/mcp_config.json`` | JSON | ``mcpServers`` (``serverUrl``) |
| cline | ``<app data>/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json`` | JSON | ``mcpServers`` |
| zed | ``<config>/zed/settings.json``; ``<project>/.zed/settings.json`` | JSONC | ``context_servers`` |
| codex | ``$CODEX_HOME/config.toml`` (``~/.codex``); ``<project>/.codex/config.toml`` | TOML | ``mcp_servers`` |
| goose | ``<config>/goose/config.yaml`` | YAML | ``extensions`` (``cmd``, ``envs``) |

``<app data>`` is ``~/Library/Application Support`` on macOS, ``%APPDATA%`` on Windows and
``$XDG_CONFIG_HOME`` (``~/.config``) on Linux. Reading and editing the files themselves is
``ucp.config.hostfile``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ucp.config.loader import Skipped
from ucp.config.models import Config, HttpServer, SseServer, StdioServer
from ucp.config.paths import CONFIG_ENV, HOME_ENV
from ucp.config.registry import check_url
from ucp.errors import ConfigError

ENTRY_NAME = "ucp"
Syntax = Literal["json", "jsonc", "toml", "yaml"]
# the shape of one server entry: "mcp" {command, args, env | url, headers}; "typed" the same
# with "type"; "windsurf" uses serverUrl; "zed" like mcp; "codex" TOML tables (http_headers);
# "goose" {name, type, cmd, args, envs, enabled, timeout}
Style = Literal["mcp", "typed", "windsurf", "zed", "codex", "goose"]


@dataclass(frozen=True)
class Host:
    id: str
    title: str
    syntax: Syntax
    key: str  # the top-level table holding the servers
    style: Style
    http: bool  # the file can hold an HTTP entry
    project: str | None  # the project file, relative to the project folder
    restart: str
    docs: str  # where the format is documented

    @property
    def typed(self) -> bool:
        return self.style == "typed"


HOSTS: dict[str, Host] = {
    h.id: h
    for h in (
        Host(
            "claude-desktop",
            "Claude Desktop",
            "json",
            "mcpServers",
            "mcp",
            False,
            None,
            "Quit Claude Desktop completely and start it again.",
            "https://modelcontextprotocol.io/docs/develop/connect-local-servers",
        ),
        Host(
            "claude-code",
            "Claude Code",
            "json",
            "mcpServers",
            "typed",
            True,
            ".mcp.json",
            "Start a new Claude Code session; `claude mcp list` shows ucp.",
            "https://docs.anthropic.com/en/docs/claude-code/mcp",
        ),
        Host(
            "cursor",
            "Cursor",
            "json",
            "mcpServers",
            "mcp",
            True,
            ".cursor/mcp.json",
            "Cursor reloads mcp.json; check Cursor Settings > MCP.",
            "https://docs.cursor.com/context/model-context-protocol",
        ),
        Host(
            "vscode",
            "VS Code",
            "jsonc",
            "servers",
            "typed",
            True,
            ".vscode/mcp.json",
            "In VS Code run 'MCP: List Servers' and start ucp (Copilot agent mode).",
            "https://code.visualstudio.com/docs/copilot/chat/mcp-servers",
        ),
        Host(
            "windsurf",
            "Windsurf",
            "json",
            "mcpServers",
            "windsurf",
            True,
            None,
            "In Windsurf open Cascade > MCP servers and press refresh.",
            "https://docs.windsurf.com/windsurf/cascade/mcp",
        ),
        Host(
            "cline",
            "Cline",
            "json",
            "mcpServers",
            "mcp",
            False,
            None,
            "Cline reloads its MCP settings; check the MCP Servers panel.",
            "https://docs.cline.bot/mcp/configuring-mcp-servers",
        ),
        Host(
            "zed",
            "Zed",
            "jsonc",
            "context_servers",
            "zed",
            False,
            ".zed/settings.json",
            "Zed reloads settings.json; the Agent Panel settings list ucp.",
            "https://zed.dev/docs/ai/mcp",
        ),
        Host(
            "codex",
            "Codex",
            "toml",
            "mcp_servers",
            "codex",
            True,
            ".codex/config.toml",
            "Start a new Codex session; /mcp lists ucp.",
            "https://developers.openai.com/codex/mcp",
        ),
        Host(
            "goose",
            "goose",
            "yaml",
            "extensions",
            "goose",
            False,
            None,
            "Start a new goose session; `goose info -v` lists the extensions.",
            "https://block.github.io/goose/docs/guides/config-files",
        ),
    )
}


def get_host(host: str) -> Host:
    if host not in HOSTS:
        raise ConfigError(f"unknown host {host!r}; choose one of {', '.join(HOSTS)}", field="host")
    return HOSTS[host]


def _app_data(platform: str, env: Mapping[str, str], home: Path) -> Path:
    """The folder Electron apps (Claude Desktop, VS Code) keep their config in."""
    if platform == "darwin":
        return home / "Library" / "Application Support"
    return _xdg_config(platform, env, home)


def _xdg_config(platform: str, env: Mapping[str, str], home: Path) -> Path:
    if platform.startswith("win"):
        return Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    return Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"


def host_config_path(
    host: str,
    *,
    project: Path | None = None,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    """The config file of ``host`` on this OS (user scope, or ``project``'s file)."""
    spec = get_host(host)
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = home or Path.home()
    if project is not None:
        if spec.project is None:
            raise ConfigError(
                f"{spec.title} has no per-project config; install without --project", field="project"
            )
        return project / spec.project
    win = platform.startswith("win")
    if host == "claude-desktop":
        return _app_data(platform, env, home) / "Claude" / "claude_desktop_config.json"
    if host == "claude-code":
        return home / ".claude.json"
    if host == "cursor":
        return home / ".cursor" / "mcp.json"
    if host == "vscode":
        return _app_data(platform, env, home) / "Code" / "User" / "mcp.json"
    if host == "windsurf":
        return home / ".codeium" / "windsurf" / "mcp_config.json"
    if host == "cline":
        return (
            _app_data(platform, env, home)
            / "Code"
            / "User"
            / "globalStorage"
            / "saoudrizwan.claude-dev"
            / "settings"
            / "cline_mcp_settings.json"
        )
    if host == "zed":
        # Zed uses ~/.config/zed on macOS too (not Application Support)
        return _xdg_config(platform, env, home) / ("Zed" if win else "zed") / "settings.json"
    if host == "codex":
        codex_home = Path(env["CODEX_HOME"]) if env.get("CODEX_HOME") else home / ".codex"
        return codex_home / "config.toml"
    assert host == "goose"
    if win:
        return _xdg_config(platform, env, home) / "Block" / "goose" / "config" / "config.yaml"
    return _xdg_config(platform, env, home) / "goose" / "config.yaml"


def ucp_command() -> list[str]:
    """The absolute command that runs this ``ucp`` (hosts start with a minimal PATH)."""
    exe = "ucp.exe" if sys.platform.startswith("win") else "ucp"
    beside = Path(sys.executable).parent / exe
    if beside.exists():
        return [os.path.abspath(beside)]
    found = shutil.which("ucp")
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "ucp"]


def ucp_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the entry passes: ``UCP_HOME`` / ``UCP_CONFIG`` only when the user set them."""
    environ = os.environ if env is None else env
    return {k: str(Path(environ[k]).expanduser().resolve()) for k in (HOME_ENV, CONFIG_ENV) if environ.get(k)}


def stdio_entry(
    host: str, name: str, command: str, args: Sequence[str], env: Mapping[str, str]
) -> dict[str, Any]:
    """A stdio server entry in ``host``'s format."""
    style = get_host(host).style
    if style == "goose":
        return {
            "name": name,
            "type": "stdio",
            "cmd": command,
            "args": list(args),
            "envs": dict(env),
            "enabled": True,
            "timeout": 300,
            "description": "UCP: one MCP endpoint for every tool" if name == ENTRY_NAME else "",
        }
    entry: dict[str, Any] = {"type": "stdio"} if style == "typed" else {}
    entry.update(command=command, args=list(args))
    if env:
        entry["env"] = dict(env)
    return entry


def http_entry(host: str, url: str, headers: Mapping[str, str]) -> dict[str, Any]:
    spec = get_host(host)
    if not spec.http:
        raise ConfigError(
            f"{spec.title}'s config file is written with local (stdio) servers only; install without --http "
            "(or add the URL in its settings)",
            field="http",
        )
    check_url(url)
    key = {"windsurf": "serverUrl"}.get(spec.style, "url")
    entry: dict[str, Any] = {"type": "http"} if spec.typed else {}
    entry[key] = url
    if headers:
        entry["http_headers" if spec.style == "codex" else "headers"] = dict(headers)
    return entry


def ucp_entry(
    host: str,
    *,
    command: Sequence[str] | None = None,
    http_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The server entry that runs UCP in ``host``'s format (stdio, or HTTP with ``http_url``)."""
    if http_url is not None:
        return http_entry(host, http_url, headers or {})
    cmd = list(command or ucp_command())
    return stdio_entry(host, ENTRY_NAME, cmd[0], [*cmd[1:], "serve"], ucp_env(env))


def snippet(host: str, entry: Mapping[str, Any], name: str = ENTRY_NAME) -> dict[str, Any]:
    return {get_host(host).key: {name: dict(entry)}}


# ---------------------------------------------------------------- host entries -> UCP
def generic_entry(host: str, raw: Any) -> Any:
    """One of ``host``'s server entries in the ``mcpServers`` shape the loader converts
    (``command``/``args``/``env``/``cwd`` or ``type``/``url``/``headers``, ``disabled``)."""
    if not isinstance(raw, dict):
        return raw
    style = get_host(host).style
    out: dict[str, Any]
    if style == "goose":
        kind = raw.get("type")
        if kind not in ("stdio", "sse", "streamable_http"):
            return {
                "_unsupported": f"a goose {kind or 'untyped'} extension (only stdio and remote ones move)"
            }
        out = {"disabled": raw.get("enabled") is False}
        if kind == "stdio":
            out.update(command=raw.get("cmd"), args=raw.get("args") or [], env=raw.get("envs") or {})
        else:
            out.update(
                type="sse" if kind == "sse" else "http", url=raw.get("uri"), headers=raw.get("headers") or {}
            )
        return out
    out = dict(raw)
    if style == "zed" and isinstance(out.get("command"), dict):  # Zed's older {"command": {"path", "args"}}
        nested = out.pop("command")
        out.update(command=nested.get("path"), args=nested.get("args", []), env=nested.get("env", {}))
    if style == "windsurf" and "serverUrl" in out:
        out["url"] = out.pop("serverUrl")
    if style == "codex":
        if "http_headers" in out:
            out["headers"] = out.pop("http_headers")
        if out.get("enabled") is False:
            out["disabled"] = True
    if out.get("enabled") is False:
        out["disabled"] = True
    if out.get("type") in ("streamableHttp", "streamable-http", "streamable_http"):  # Cline, others
        out["type"] = "http"
    return out


def generic_entries(host: str, data: Mapping[str, Any]) -> dict[str, Any]:
    servers = data.get(get_host(host).key) or {}
    if not isinstance(servers, dict):
        raise ConfigError(f"'{get_host(host).key}' must be a table of servers", field=get_host(host).key)
    return {name: generic_entry(host, raw) for name, raw in servers.items()}


# ---------------------------------------------------------------- export
ExportFormat = Literal["claude", "cursor", "vscode"]
_PLAIN_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def export_servers(config: Config, fmt: ExportFormat) -> tuple[dict[str, Any], list[Skipped]]:
    """The registry's enabled servers as a host config (``${VAR}`` becomes ``${env:VAR}`` for
    Cursor and VS Code). UTCP and disabled servers are skipped with the reason."""
    typed = fmt != "cursor"

    def ref(value: str) -> str:
        return value if fmt == "claude" else _PLAIN_REF.sub(r"${env:\1}", value)

    out: dict[str, Any] = {}
    skipped: list[Skipped] = []
    for name, server in config.servers.items():
        if not server.enabled:
            skipped.append(Skipped(name, "disabled"))
            continue
        entry: dict[str, Any] = {"type": server.type} if typed else {}
        if isinstance(server, StdioServer):
            entry.update(command=ref(server.command), args=[ref(a) for a in server.args])
            if server.env:
                entry["env"] = {k: ref(v) for k, v in server.env.items()}
            if server.cwd:
                entry["cwd"] = ref(server.cwd)
        elif isinstance(server, (HttpServer, SseServer)):
            entry["url"] = ref(server.url)
            if server.headers:
                entry["headers"] = {k: ref(v) for k, v in server.headers.items()}
        else:
            skipped.append(Skipped(name, "a UTCP manual: hosts cannot load it; serve it through UCP"))
            continue
        out[name] = entry
    return {"servers" if fmt == "vscode" else "mcpServers": out}, skipped
