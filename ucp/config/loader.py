"""The only module that reads config files and the environment.

Accepted files:
- UCP's own registry, TOML (``ucp.toml``): ``[servers.<name>]`` tables plus optional
  ``[exposure]``, ``[router]``, ``[learning]``, ``[http]``, ``[pool]`` sections;
- a host config, JSON, as-is: the ``mcpServers`` object of Claude Desktop, Claude
  Code (``.mcp.json``) and Cursor, or the ``servers`` object of VS Code.

Every problem becomes a ``ConfigError`` naming the file, the entry and the field,
raised before anything starts.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import TypeAdapter, ValidationError

from ucp.config.models import Config, ServerConfig, validate_server_name
from ucp.errors import ConfigError
from ucp.log import register_secret
from ucp.safeparse import DocumentError, Limits, check_shape

ConfigFormat = Literal["ucp", "mcpServers", "vscode", "empty"]

_ENV_REF = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)\}")
_SERVER_ADAPTER: TypeAdapter[ServerConfig] = TypeAdapter(ServerConfig)
_NOT_SECRET = frozenset(
    {"HOME", "USER", "LOGNAME", "PATH", "PWD", "SHELL", "TMPDIR", "TMP", "TEMP", "LANG", "TERM", "UCP_HOME"}
)
MAX_CONFIG_BYTES = 4 * 1024 * 1024
CONFIG_LIMITS = Limits(max_depth=64, max_nodes=500_000)
_SETTINGS_SECTIONS = (
    "exposure",
    "router",
    "learning",
    "http",
    "pool",
    "trust",
    "limits",
    "auth",
    "policy",
    "tenants",
    "rate_limits",
    "audit",
    "telemetry",
    "state",
    "builtins",
    "log_level",
)


@dataclass(frozen=True)
class Skipped:
    """A host-config entry that could not be taken over, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    path: Path | None
    format: ConfigFormat
    skipped: tuple[Skipped, ...] = field(default=())
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def writable(self) -> bool:
        """Only UCP's own TOML registry is written by ``ucp registry``; host files are read-only."""
        return self.format in ("ucp", "empty")


# ---------------------------------------------------------------- environment references
def env_refs(value: str) -> list[str]:
    """The environment variables a string refers to (``${VAR}`` or Cursor's ``${env:VAR}``)."""
    return _ENV_REF.findall(value)


def env_is_set(name: str) -> bool:
    """Whether ``${name}`` resolves here: the environment, or ``$UCP_HOME/.env``."""
    if name in os.environ:
        return True
    from ucp.config.paths import ucp_home
    from ucp.config.secrets import dotenv_value

    return dotenv_value(ucp_home(), name) is not None


def expand_env(value: str, env: Mapping[str, str] | None = None, *, where: str = "") -> str:
    """Replace ``${VAR}`` with its value (from ``env``, default the environment and then
    ``$UCP_HOME/.env``); a missing variable is a ``ConfigError``."""
    environ = os.environ if env is None else env

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ and environ is os.environ:
            from ucp.config.paths import ucp_home
            from ucp.config.secrets import dotenv_value  # secrets UCP moved out of host files

            value = dotenv_value(ucp_home(), name)
            if value is not None:
                return value
        if name not in environ:
            raise ConfigError(
                f"environment variable {name} is not set (referenced as ${{{name}}}); export it or remove the reference",
                field=where or None,
            )
        if name not in _NOT_SECRET and not name.startswith("XDG_"):
            register_secret(environ[name])  # masked in every log line and error shown
        return environ[name]

    return _ENV_REF.sub(sub, value)


# ---------------------------------------------------------------- parsing
def _pydantic_error(
    exc: ValidationError, *, file: str, entry: str | None, prefix: tuple[Any, ...] = ()
) -> ConfigError:
    first = exc.errors()[0]
    loc = [str(p) for p in (*prefix, *first["loc"])]
    # drop the discriminator tag pydantic inserts ("stdio", "http", ...) from the location
    loc = [p for p in loc if p not in ("stdio", "http", "sse", "utcp")]
    return ConfigError(first["msg"], file=file, entry=entry, field=".".join(loc) or None)


def parse_server(name: str, raw: Any, *, file: str = "<config>") -> ServerConfig:
    """One registry entry -> a validated server config."""
    if not isinstance(raw, dict):
        raise ConfigError("a server entry must be a table/object", file=file, entry=name)
    data = dict(raw)
    data.setdefault("name", name)
    if data["name"] != name:
        raise ConfigError(
            f"name {data['name']!r} differs from the table key", file=file, entry=name, field="name"
        )
    if "type" not in data:
        data["type"] = _infer_type(data)
    elif data["type"] in ("streamable-http", "streamableHttp", "streamable_http", "shttp"):
        data["type"] = "http"
    try:
        return _SERVER_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise _pydantic_error(exc, file=file, entry=name) from None


def _infer_type(data: Mapping[str, Any]) -> str:
    if "command" in data:
        return "stdio"
    if "manual" in data:
        return "utcp"
    url = data.get("url")
    if isinstance(url, str):
        return "sse" if urlparse(url).path.rstrip("/").endswith("/sse") else "http"
    return "stdio"  # validation then names the missing field 'command'


def parse_ucp_toml(data: Mapping[str, Any], *, file: str = "<config>") -> Config:
    unknown = sorted(set(data) - {"servers", *_SETTINGS_SECTIONS})
    if unknown:
        raise ConfigError(
            f"unknown section(s) {', '.join(unknown)}; expected servers, {', '.join(_SETTINGS_SECTIONS)}",
            file=file,
            field=unknown[0],
        )
    servers_raw = data.get("servers", {})
    if not isinstance(servers_raw, dict):
        raise ConfigError("[servers] must be a table of tables", file=file, field="servers")
    servers = {name: parse_server(name, raw, file=file) for name, raw in servers_raw.items()}
    settings = {k: v for k, v in data.items() if k != "servers"}
    try:
        config = Config.model_validate({"servers": {}, **settings})
    except ValidationError as exc:
        raise _pydantic_error(exc, file=file, entry=None) from None
    config = config.model_copy(update={"servers": servers})
    check_config(config, file=file)
    return config


def check_config(config: Config, *, file: str = "<config>") -> None:
    """Cross-field checks pydantic cannot do alone."""
    if config.builtins and "cloud" in config.servers:
        raise ConfigError(
            "the name 'cloud' is taken by the built-in cloud tools; rename this server or set builtins = false",
            file=file,
            entry="cloud",
            field="name",
        )


def sanitize_server_name(name: str) -> str:
    """Turn a host-config key (``"GitHub MCP"``, ``"my.server"``) into a valid server name."""
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "_", name.strip()).strip("_-")
    cleaned = re.sub(r"_+", "_", cleaned)[:32].strip("_-") or "server"
    if cleaned.lower() == "ucp":
        cleaned = "ucp-server"
    return cleaned


def convert_host_entries(
    entries: Mapping[str, Any], *, file: str = "<config>", skip_names: frozenset[str] = frozenset({"ucp"})
) -> tuple[dict[str, ServerConfig], list[Skipped], dict[str, str]]:
    """Host-config server entries -> UCP server configs, with what was skipped and renamed.

    Entries named ``ucp`` (UCP itself, installed into the host) are skipped so UCP never
    proxies itself. Invalid entries are skipped with the reason, not fatal: a host file
    is someone else's format.
    """
    servers: dict[str, ServerConfig] = {}
    skipped: list[Skipped] = []
    renamed: dict[str, str] = {}
    for key, raw in entries.items():
        if key in skip_names:
            skipped.append(Skipped(key, "this is UCP itself; UCP does not proxy itself"))
            continue
        if not isinstance(raw, dict):
            skipped.append(Skipped(key, "entry is not an object"))
            continue
        if isinstance(raw.get("_unsupported"), str):  # a host-specific kind (ucp.config.hosts)
            skipped.append(Skipped(key, raw["_unsupported"]))
            continue
        if raw.get("disabled") is True:
            skipped.append(Skipped(key, "disabled in the host config"))
            continue
        name = key
        try:
            validate_server_name(key)
        except ValueError:
            name = sanitize_server_name(key)
            while name in servers:
                name = f"{name[:29]}-{len(servers)}"
            renamed[key] = name
        data = {
            k: v for k, v in raw.items() if k in ("type", "command", "args", "env", "cwd", "url", "headers")
        }
        try:
            servers[name] = parse_server(name, data, file=file)
        except ConfigError as exc:
            skipped.append(Skipped(key, exc.message))
            renamed.pop(key, None)
    return servers, skipped, renamed


def parse_host_json(
    data: Any, *, file: str = "<config>"
) -> tuple[Config, ConfigFormat, list[Skipped], dict[str, str]]:
    """A host config (``mcpServers`` or VS Code ``servers`` JSON): its servers, its format, the
    entries skipped (with why) and the names changed to valid server names."""
    if isinstance(data, dict) and isinstance(data.get("mcpServers"), dict):
        fmt: ConfigFormat = "mcpServers"
        entries = data["mcpServers"]
    elif isinstance(data, dict) and isinstance(data.get("servers"), dict):
        fmt = "vscode"
        entries = data["servers"]
    else:
        raise ConfigError(
            "not a host config: expected an 'mcpServers' object (Claude Desktop, Claude Code, Cursor) "
            "or a 'servers' object (VS Code)",
            file=file,
        )
    servers, skipped, renamed = convert_host_entries(entries, file=file)
    return Config(servers=servers), fmt, skipped, renamed


def read_config_file(path: Path) -> LoadedConfig:
    """Load a registry or host config; a missing file is an empty config (built-ins only)."""
    file = str(path)
    if not path.exists():
        return LoadedConfig(Config(), path, "empty")
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"the file is {size} bytes; a config may be at most {MAX_CONFIG_BYTES}", file=file
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", file=file) from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        from ucp.config import jsonc  # VS Code and Zed write JSON with comments

        try:
            data = jsonc.loads(text) if text.strip() else {}
            check_shape(data, CONFIG_LIMITS)
        except jsonc.JsoncError as exc:
            raise ConfigError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=file
            ) from None
        except RecursionError:
            raise ConfigError(
                f"invalid JSON: nested deeper than {CONFIG_LIMITS.max_depth} levels", file=file
            ) from None
        except ValueError as exc:  # DocumentError (too deep, too many values), a 5,000-digit number
            raise ConfigError(f"invalid JSON: {str(exc)[:200]}", file=file) from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"the top level is a JSON {_json_kind(data)}; a config must be an object "
                "(a UCP registry, or a host config with 'mcpServers' or 'servers')",
                file=file,
            )
        if ("mcpServers" in data or "servers" in data) and "exposure" not in data:
            config, fmt, skipped, renamed = parse_host_json(data, file=file)
            return LoadedConfig(config, path, fmt, tuple(skipped), renamed)
        return LoadedConfig(parse_ucp_toml(data, file=file), path, "ucp")
    try:
        data = tomllib.loads(text)
        check_shape(data, CONFIG_LIMITS)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=file) from None
    except RecursionError:
        raise ConfigError(
            f"invalid TOML: nested deeper than {CONFIG_LIMITS.max_depth} levels", file=file
        ) from None
    except DocumentError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=file) from None
    return LoadedConfig(parse_ucp_toml(data, file=file), path, "ucp")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or value is None:
        return "literal"
    return "number"


def config_to_toml_data(config: Config) -> dict[str, Any]:
    """The TOML document for a config: non-default settings and every server (no ``name`` keys)."""
    out: dict[str, Any] = {}
    for section in _SETTINGS_SECTIONS:
        value = getattr(config, section)
        if hasattr(value, "model_dump"):
            dumped = value.model_dump(mode="json", exclude_defaults=True)
            if dumped:
                out[section] = dumped
        elif isinstance(value, dict):
            if value:
                out[section] = {k: v.model_dump(mode="json", exclude_defaults=True) for k, v in value.items()}
        elif value != Config.model_fields[section].default:
            out[section] = value
    servers: dict[str, Any] = {}
    for name, server in config.servers.items():
        dumped = server.model_dump(mode="json", exclude_defaults=True, exclude={"name"})
        dumped = {"type": server.type, **dumped}
        servers[name] = dumped
    out["servers"] = servers
    return out
