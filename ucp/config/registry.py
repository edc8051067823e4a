"""Read-modify-write of UCP's own registry file (``ucp.toml``), safely.

Every change is one transaction: take ``<file>.lock`` (``filelock``), read the raw
TOML, change the ``[servers]`` table, validate the *whole* result with the loader,
then write a temp file in the same folder, fsync it and ``os.replace`` it over the
registry (a running ``ucp serve`` sees a new mtime and reloads). Any error before
the replace leaves the file byte-identical. The file is edited with a round-trip TOML
library (``tomlkit``): comments, blank lines, ordering and the layout of everything the
change does not touch are kept. ``${VAR}`` references are kept verbatim.

Only TOML registries are written; a host config (JSON) given with ``--config`` is
read-only here.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import filelock

from ucp.config.loader import Skipped, parse_host_json, parse_server, parse_ucp_toml
from ucp.config.models import Config, ServerConfig, StdioServer
from ucp.config.paths import default_paths
from ucp.errors import ConfigError, DuplicateServerError, RegistryError, UnknownServerError
from ucp.fileio import atomic_write_text
from ucp.naming import suggest

if TYPE_CHECKING:
    import tomlkit

T = TypeVar("T")

HEADER = "# UCP registry: `ucp registry` edits it and keeps your comments. Format: registry/README.md\n\n"
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# ${VAR} and ${env:VAR} are environment references UCP expands; any other ${...:...}
# (VS Code's ${input:id}, ${workspaceFolder}...) is a host feature UCP cannot honour.
_HOST_ONLY_REF = re.compile(r"\$\{(?!(?:env:)?[A-Za-z_][A-Za-z0-9_]*\})[^}]*\}")


# ---------------------------------------------------------------- building entries
def server_to_toml(server: ServerConfig) -> dict[str, Any]:
    """One ``[servers.<name>]`` table: ``type`` first, non-default fields, no ``name``."""
    dumped = server.model_dump(mode="json", exclude_defaults=True, exclude={"name", "type"})
    return {"type": server.type, **dumped}


def parse_pairs(items: Sequence[str], *, sep: str, what: str) -> dict[str, str]:
    """``["K=V", ...]`` (or ``"K: V"`` headers) -> dict; a malformed item is a ``ConfigError``."""
    out: dict[str, str] = {}
    for item in items:
        key, found, value = item.partition(sep)
        key = key.strip()
        if not found or not key:
            example = "KEY=VALUE" if sep == "=" else "Name: value"
            raise ConfigError(f"invalid {what} {item!r}: expected {example}", field=what)
        if what == "env" and not _ENV_KEY.match(key):
            raise ConfigError(f"invalid environment variable name {key!r}", field="env")
        out[key] = value if sep == "=" else value.strip()
    return out


def check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.netloc.startswith(":"):
        raise ConfigError(f"invalid URL {url!r}: expected http(s)://host[:port]/path", field="url")
    return url


def build_server(
    name: str,
    *,
    command: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    url: str | None = None,
    headers: Mapping[str, str] | None = None,
    transport: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """A server entry from command-line style input (stdio command or URL); ``ConfigError`` if invalid."""
    if command and url:
        raise ConfigError("give either a command (after --) or --url, not both", entry=name)
    if not command and not url:
        raise ConfigError("nothing to run: give a command after -- (stdio) or --url (http/sse)", entry=name)
    raw: dict[str, Any] = dict(extra or {})
    if command:
        if headers or transport not in (None, "stdio"):
            raise ConfigError("--header and --transport apply to --url servers only", entry=name)
        raw.update(type="stdio", command=command[0], args=list(command[1:]))
        if env:
            raw["env"] = dict(env)
        if cwd:
            raw["cwd"] = cwd
    else:
        assert url is not None
        if env or cwd:
            raise ConfigError(
                "--env and --cwd apply to stdio servers only; use --header for HTTP", entry=name
            )
        check_url(url)
        raw["url"] = url
        if transport:
            raw["type"] = transport
        if headers:
            raw["headers"] = dict(headers)
    return parse_server(name, raw, file="<command line>")


# ---------------------------------------------------------------- commands hosts can start
# What a host gives the processes it launches: GUI apps on macOS get launchd's PATH, Linux
# desktop launchers a similar minimal one; not the shell's (no venv, no ~/.local/bin, no nvm).
HOST_PATH = (
    "" if sys.platform.startswith("win") else os.pathsep.join(["/usr/bin", "/bin", "/usr/sbin", "/sbin"])
)


def _shebang_interpreter(path: str) -> str | None:
    """``node`` for a script starting ``#!/usr/bin/env node`` (``env -S`` too), else None."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(256)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode("utf-8", "replace").split()
    if len(parts) >= 2 and Path(parts[0]).name == "env":
        rest = [p for p in parts[1:] if not p.startswith("-")]
        return rest[0] if rest else None
    return None


def resolve_command(server: ServerConfig, *, path: str | None = None) -> tuple[ServerConfig, str | None]:
    """A stdio server whose command a host can start: a bare name becomes the absolute path it
    has on ``path`` (default: this shell's PATH); a script run through ``/usr/bin/env X`` gets
    ``PATH`` with X's folder in its env when X is not on a host's minimal PATH. Returns the
    server and a note for the user (what changed, or that the command was not found)."""
    if not isinstance(server, StdioServer) or "${" in server.command:
        return server, None
    command = os.path.expanduser(server.command)
    if os.path.isabs(command):
        resolved = command if os.access(command, os.X_OK) and os.path.isfile(command) else None
        if resolved is None:
            return server, f"{server.command} does not exist or is not executable: the server cannot start"
    elif os.sep in command or (os.altsep and os.altsep in command):
        resolved = os.path.abspath(command)
    else:
        found = shutil.which(command, path=path)
        if found is None:
            return server, (
                f"{command!r} is not on PATH: hosts start UCP with a minimal PATH, so the server will not "
                "start. Install it, or register its absolute path"
            )
        resolved = os.path.abspath(found)
    update: dict[str, Any] = {}
    notes = []
    if resolved != server.command:
        update["command"] = resolved
        notes.append(f"command {server.command!r} -> {resolved}")
    interpreter = _shebang_interpreter(resolved)
    if interpreter and "PATH" not in server.env and shutil.which(interpreter, path=HOST_PATH or None) is None:
        where = shutil.which(interpreter, path=path)
        if where is not None:
            folder = os.path.dirname(os.path.abspath(where))
            update["env"] = {**server.env, "PATH": folder + os.pathsep + "${PATH}"}
            notes.append(
                f"env PATH starts with {folder} ({os.path.basename(resolved)} runs through {interpreter})"
            )
    if not update:
        return server, None
    return server.model_copy(update=update), "; ".join(notes)


def host_only_refs(server: ServerConfig) -> list[str]:
    """``${input:...}``-style references in a server's strings that only a host can resolve."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.extend(_HOST_ONLY_REF.findall(value))
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(server.model_dump(mode="json"))
    return found


# ---------------------------------------------------------------- import reports
@dataclass
class ImportReport:
    """What ``import_host`` did: added names, skipped entries with reasons, renamed keys."""

    source: str
    format: str
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already registered exactly like this
    skipped: list[Skipped] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    written: bool = False

    def moved_keys(self) -> list[str]:
        """The host-file keys of every entry now in the registry (added, replaced or unchanged)."""
        back = {new: old for old, new in self.renamed.items()}
        return [back.get(n, n) for n in (*self.added, *self.replaced, *self.unchanged)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "skipped": [{"name": s.name, "reason": s.reason} for s in self.skipped],
            "renamed": self.renamed,
            "written": self.written,
        }


# ---------------------------------------------------------------- the store
class RegistryStore:
    """Transactions on one registry file. Safe across threads and processes."""

    def __init__(self, path: Path | None = None, *, lock_timeout: float = 15.0) -> None:
        self.path = path if path is not None else default_paths().registry
        self.lock_timeout = lock_timeout

    # ------------------------------------------------------------ reading
    def _check_writable_format(self, text: str | None = None) -> None:
        if self.path.suffix.lower() == ".json" or (text is not None and text.lstrip().startswith("{")):
            raise RegistryError(
                f"{self.path} is a JSON (host) config: `ucp registry` only writes UCP's TOML registry. "
                f"Registry changes go to {default_paths().registry} (run without --config / UCP_CONFIG), "
                f"or copy these servers there with `ucp registry import {self.path}`",
                file=str(self.path),
            )

    def _read_raw(self) -> tomlkit.TOMLDocument:
        import tomlkit  # lazy: the round-trip parser is only needed to change the file
        import tomlkit.exceptions

        self._check_writable_format()
        if not self.path.exists():
            return tomlkit.parse(HEADER)
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the registry: {exc}", file=str(self.path)) from None
        self._check_writable_format(text)
        try:
            tomllib.loads(text)  # the loader's parser decides what is valid TOML
            return tomlkit.parse(text)
        except (tomllib.TOMLDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
            raise ConfigError(f"invalid TOML (fix the file first): {exc}", file=str(self.path)) from None

    def _validate(self, raw: Mapping[str, Any]) -> Config:
        unwrap = getattr(raw, "unwrap", None)  # a tomlkit document
        plain = unwrap() if callable(unwrap) else raw
        return parse_ucp_toml(plain, file=str(self.path))

    def load(self) -> Config:
        """The registry as a validated config (an absent file is an empty registry)."""
        return self._validate(self._read_raw())

    # ------------------------------------------------------------ transactions
    def transaction(self, change: Callable[[dict[str, Any], Config], tuple[T, bool]]) -> T:
        """Run ``change(raw, config) -> (result, changed)`` under the lock; write if ``changed``.

        ``raw`` is the file's TOML data (mutate it); ``config`` its validated form. The
        result is validated as a whole before anything is written.
        """
        self._check_writable_format()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryError(f"cannot create {self.path.parent}: {exc}", file=str(self.path)) from None
        lock = filelock.FileLock(f"{self.path}.lock", timeout=self.lock_timeout)
        try:
            with lock:
                raw = self._read_raw()
                config = self._validate(raw)
                result, changed = change(raw, config)
                if changed:
                    self._validate(raw)
                    import tomlkit

                    atomic_write_text(self.path, tomlkit.dumps(raw))
                return result
        except filelock.Timeout:
            raise RegistryError(
                f"the registry {self.path} is locked by another ucp process (lock file {lock.lock_file}); "
                "try again, or delete the lock file if no ucp command is running",
                file=str(self.path),
            ) from None
        except OSError as exc:
            raise RegistryError(
                f"cannot write the registry {self.path}: {exc}", file=str(self.path)
            ) from None

    @staticmethod
    def _servers(raw: dict[str, Any]) -> dict[str, Any]:
        if "servers" not in raw:
            import tomlkit

            raw["servers"] = tomlkit.table(is_super_table=True)
        servers = raw["servers"]
        assert isinstance(servers, dict)  # checked by the validation of the file
        return servers

    def _unknown(self, name: str, config: Config) -> UnknownServerError:
        near = suggest(name, list(config.servers))
        hint = (
            f" Did you mean: {', '.join(near)}?"
            if near
            else " `ucp registry list` shows the registered servers."
        )
        return UnknownServerError(f"no server {name!r} in {self.path}.{hint}", server=name, suggestions=near)

    def add(self, server: ServerConfig, *, replace: bool = False) -> bool:
        """Register ``server``; returns whether an entry was replaced. Duplicate names raise
        ``DuplicateServerError`` unless ``replace``."""

        def change(raw: dict[str, Any], config: Config) -> tuple[bool, bool]:
            exists = server.name in config.servers
            if exists and not replace:
                raise DuplicateServerError(
                    f"a server named {server.name!r} is already in {self.path}; "
                    "pick another name, or `ucp registry remove` it first (or pass --replace)",
                    server=server.name,
                )
            self._servers(raw)[server.name] = server_to_toml(server)
            return exists, True

        return self.transaction(change)

    def remove(self, name: str) -> ServerConfig:
        """Unregister ``name`` and return what it was; unknown names raise ``UnknownServerError``."""

        def change(raw: dict[str, Any], config: Config) -> tuple[ServerConfig, bool]:
            if name not in config.servers:
                raise self._unknown(name, config)
            del self._servers(raw)[name]
            return config.servers[name], True

        return self.transaction(change)

    def set_enabled(self, name: str, enabled: bool) -> bool:
        """Enable or disable ``name``; returns whether anything changed (no write if not)."""

        def change(raw: dict[str, Any], config: Config) -> tuple[bool, bool]:
            if name not in config.servers:
                raise self._unknown(name, config)
            if config.servers[name].enabled == enabled:
                return False, False
            entry = self._servers(raw)[name]
            if enabled:
                entry.pop("enabled", None)  # the default
            else:
                entry["enabled"] = False
            return True, True

        return self.transaction(change)

    def get(self, name: str) -> ServerConfig:
        config = self.load()
        if name not in config.servers:
            raise self._unknown(name, config)
        return config.servers[name]

    def import_host(
        self,
        data: Any,
        *,
        source: str = "<import>",
        replace: bool = False,
        dry_run: bool = False,
        transform: Callable[[ServerConfig], ServerConfig] | None = None,
    ) -> ImportReport:
        """Take over the servers of a host config (``mcpServers`` or VS Code ``servers`` JSON).

        Entries that cannot be used are skipped with the reason; names already registered
        are skipped unless ``replace`` (or reported ``unchanged`` when identical). ``transform``
        rewrites each entry before it is stored (command resolution, secrets moved out). With
        ``dry_run`` nothing is written.
        """
        parsed, fmt, skipped, renamed = parse_host_json(data, file=source)
        servers = parsed.servers
        report = ImportReport(source=source, format=fmt, skipped=list(skipped), renamed=dict(renamed))
        original = {new: old for old, new in renamed.items()}

        def change(raw: dict[str, Any], config: Config) -> tuple[ImportReport, bool]:
            for name, server in servers.items():
                key = original.get(name, name)
                if transform is not None and not host_only_refs(server):
                    server = transform(server)
                refs = host_only_refs(server)
                if refs:
                    reason = f"uses {', '.join(sorted(set(refs)))}, which only the host can fill in; add it by hand with --env/--header"
                    report.skipped.append(Skipped(key, reason))
                elif name == "cloud" and config.builtins:
                    report.skipped.append(Skipped(key, "the name 'cloud' is taken by UCP's built-in tools"))
                elif name in config.servers and config.servers[name] == server:
                    report.unchanged.append(name)
                    continue
                elif name in config.servers and not replace:
                    report.skipped.append(
                        Skipped(key, f"a server named {name!r} is already registered (use --replace)")
                    )
                else:
                    (report.replaced if name in config.servers else report.added).append(name)
                    self._servers(raw)[name] = server_to_toml(server)
                    continue
                report.renamed.pop(key, None)
            report.written = bool(report.added or report.replaced) and not dry_run
            return report, report.written

        if dry_run:
            raw = self._read_raw()
            result, _ = change(raw, self._validate(raw))
            self._validate(raw)  # the same check a real import makes before writing
            return result
        return self.transaction(change)
