"""Host config files (Claude Desktop, Claude Code, Cursor, VS Code): where they are, the
entry that runs UCP, and merging it in without disturbing anything else.

The library half of ``ucp install``. ``plan_install`` reads the host file and computes the
new text (pure, nothing written: ``--dry-run`` prints it); ``apply_install`` backs the
old file up as ``<file>.bak-<timestamp>`` and replaces it atomically. Every other key and
entry of the file is kept; an existing, different ``ucp`` entry is only replaced with
``force``.

Paths (``home`` is ``Path.home()``; ``project`` is a folder, with ``--project``):
- claude-desktop: macOS ``~/Library/Application Support/Claude/claude_desktop_config.json``,
  Windows ``%APPDATA%\\Claude\\...``, Linux ``$XDG_CONFIG_HOME/Claude/...`` (default ``~/.config``).
- claude-code: user scope ``~/.claude.json`` (its top-level ``mcpServers``, what
  ``claude mcp add --scope user`` writes); project scope ``<project>/.mcp.json``.
- cursor: ``~/.cursor/mcp.json``; project ``<project>/.cursor/mcp.json``.
- vscode: the user ``mcp.json`` (Linux ``$XDG_CONFIG_HOME/Code/User``, macOS
  ``~/Library/Application Support/Code/User``, Windows ``%APPDATA%\\Code\\User``);
  project ``<project>/.vscode/mcp.json``. Top-level ``servers``, entries typed.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ucp.config.loader import Skipped
from ucp.config.models import Config, HttpServer, SseServer, StdioServer
from ucp.config.paths import CONFIG_ENV, HOME_ENV
from ucp.config.registry import check_url
from ucp.errors import ConfigError, RegistryError
from ucp.fileio import atomic_write_text

Action = Literal["add", "update", "unchanged"]
ENTRY_NAME = "ucp"


@dataclass(frozen=True)
class Host:
    id: str
    title: str
    key: str  # the top-level object holding the servers
    typed: bool  # entries carry "type": "stdio" / "http"
    http: bool  # the file can hold an HTTP entry
    project: bool  # has a per-project file
    restart: str


HOSTS: dict[str, Host] = {
    h.id: h
    for h in (
        Host(
            "claude-desktop",
            "Claude Desktop",
            "mcpServers",
            False,
            False,
            False,
            "Quit Claude Desktop completely and start it again.",
        ),
        Host(
            "claude-code",
            "Claude Code",
            "mcpServers",
            True,
            True,
            True,
            "Start a new Claude Code session; `claude mcp list` shows ucp.",
        ),
        Host(
            "cursor",
            "Cursor",
            "mcpServers",
            False,
            True,
            True,
            "Cursor reloads mcp.json; check Cursor Settings > MCP.",
        ),
        Host(
            "vscode",
            "VS Code",
            "servers",
            True,
            True,
            True,
            "In VS Code run 'MCP: List Servers' and start ucp (Copilot agent mode).",
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
        if not spec.project:
            raise ConfigError(
                f"{spec.title} has no per-project config; install without --project", field="project"
            )
        return {
            "claude-code": project / ".mcp.json",
            "cursor": project / ".cursor" / "mcp.json",
            "vscode": project / ".vscode" / "mcp.json",
        }[host]
    if host == "claude-desktop":
        return _app_data(platform, env, home) / "Claude" / "claude_desktop_config.json"
    if host == "claude-code":
        return home / ".claude.json"
    if host == "cursor":
        return home / ".cursor" / "mcp.json"
    return _app_data(platform, env, home) / "Code" / "User" / "mcp.json"


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


def ucp_entry(
    host: str,
    *,
    command: Sequence[str] | None = None,
    http_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The server entry that runs UCP in ``host``'s format (stdio, or HTTP with ``http_url``)."""
    spec = get_host(host)
    if http_url is not None:
        if not spec.http:
            raise ConfigError(
                f"{spec.title}'s config file only launches local (stdio) servers; install without --http "
                "(or add the URL as a custom connector in its settings)",
                field="http",
            )
        check_url(http_url)
        entry: dict[str, Any] = {"type": "http"} if spec.typed else {}
        entry["url"] = http_url
        if headers:
            entry["headers"] = dict(headers)
        return entry
    cmd = list(command or ucp_command())
    entry = {"type": "stdio"} if spec.typed else {}
    entry.update(command=cmd[0], args=[*cmd[1:], "serve"])
    extra = ucp_env(env)
    if extra:
        entry["env"] = extra
    return entry


def snippet(host: str, entry: Mapping[str, Any], name: str = ENTRY_NAME) -> dict[str, Any]:
    return {get_host(host).key: {name: dict(entry)}}


@dataclass(frozen=True)
class InstallPlan:
    host: str
    path: Path
    before: str | None  # the file's text (None: it does not exist)
    after: str
    action: Action
    entry: dict[str, Any]

    def diff(self) -> str:
        before = (self.before or "").splitlines(keepends=True)
        label = str(self.path) if self.before is not None else "/dev/null"
        return "".join(
            difflib.unified_diff(before, self.after.splitlines(keepends=True), label, str(self.path))
        )


def _indent(text: str) -> int | str:
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            lead = line[: len(line) - len(stripped)]
            return "\t" if lead.startswith("\t") else len(lead)
    return 2


def plan_install(
    host: str, entry: Mapping[str, Any], *, path: Path, name: str = ENTRY_NAME, force: bool = False
) -> InstallPlan:
    """Compute the host file with ``entry`` merged in; raises on unreadable files or conflicts."""
    spec = get_host(host)
    before: str | None = None
    data: dict[str, Any] = {}
    if path.exists():
        try:
            before = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the file: {exc}", file=str(path)) from None
        if before.strip():
            try:
                loaded = json.loads(before)
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); comments and trailing "
                    "commas cannot be kept by an automatic edit: fix it, or add the snippet of "
                    f"`ucp install --print {host}` by hand",
                    file=str(path),
                ) from None
            if not isinstance(loaded, dict):
                raise ConfigError("expected a JSON object at the top level", file=str(path))
            data = copy.deepcopy(loaded)
    servers = data.setdefault(spec.key, {})
    if not isinstance(servers, dict):
        raise ConfigError(f"'{spec.key}' must be an object", file=str(path), field=spec.key)
    current = servers.get(name)
    if current == dict(entry):
        action: Action = "unchanged"
    elif current is not None and not force:
        raise RegistryError(
            f"{path} already has a different {name!r} entry: {json.dumps(current)}; "
            "pass --force to replace it (a backup is kept)",
            file=str(path),
        )
    else:
        action = "update" if current is not None else "add"
        servers[name] = dict(entry)
    after = json.dumps(data, indent=_indent(before or ""), ensure_ascii=False) + "\n"
    return InstallPlan(
        host, path, before, before if action == "unchanged" and before else after, action, dict(entry)
    )


def apply_install(plan: InstallPlan, *, now: float | None = None) -> Path | None:
    """Write the plan: back the old file up, replace atomically. Returns the backup path."""
    if plan.action == "unchanged":
        return None
    path = plan.path
    try:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != plan.before:
            raise RegistryError(f"{path} changed while installing; run the command again", file=str(path))
        backup = None
        if plan.before is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
            backup = path.with_name(f"{path.name}.bak-{stamp}")
            n = 1
            while backup.exists():
                backup = path.with_name(f"{path.name}.bak-{stamp}-{n}")
                n += 1
            shutil.copy2(path, backup)
        atomic_write_text(path, plan.after)
    except OSError as exc:
        raise RegistryError(f"cannot write {path}: {exc}", file=str(path)) from None
    return backup


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
