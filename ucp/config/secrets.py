"""Secrets out of the registry: ``$UCP_HOME/.env`` and ``${VAR}`` references.

Host files often hold tokens and passwords in plain text (``env``/``headers``). When UCP
takes servers over, ``move_secrets`` replaces each literal secret with a ``${VAR}``
reference and returns the values, which ``write_dotenv`` stores in ``$UCP_HOME/.env``
(mode 0600, never logged). Every ``ucp`` command loads that file into its environment
(``load_dotenv``: variables already set win), so the references resolve where the host
launches UCP; ``dotenv_value`` is the loader's fallback for a reference the environment
does not set (so a running ``ucp serve`` picks up a new secret without a restart). A value is a secret when its key names one (token, secret, password, api key,
authorization, ...) and it is not already a reference.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from ucp.config.models import HttpServer, ServerConfig, SseServer, StdioServer
from ucp.fileio import atomic_write_text

DOTENV = ".env"
_SECRET_KEY = re.compile(
    r"token|secret|passw|pwd|api[-_]?key|apikey|auth|credential|private[-_]?key|access[-_]?key|cookie|session|(^|_)pat$",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"^(Bearer|Basic|Token)\s+(\S.*)$", re.IGNORECASE)
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


@dataclass(frozen=True)
class MovedSecret:
    server: str
    where: str  # "env" or "headers"
    key: str
    var: str

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def is_secret(key: str, value: str) -> bool:
    return bool(value.strip()) and "${" not in value and bool(_SECRET_KEY.search(key))


def _var_name(server: str, key: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{server}_{key}").strip("_").upper()


def _claim(var: str, value: str, taken: MutableMapping[str, str]) -> str:
    """A variable name for ``value``: ``var``, or ``var_2``... if ``var`` holds something else."""
    name, n = var, 1
    while name in taken and taken[name] != value:
        n += 1
        name = f"{var}_{n}"
    taken[name] = value
    return name


def move_secrets(
    server: ServerConfig, taken: MutableMapping[str, str]
) -> tuple[ServerConfig, list[MovedSecret]]:
    """``server`` with its literal secrets replaced by ``${VAR}``; ``taken`` (the .env, as it
    will be) gains the values."""
    moved: list[MovedSecret] = []
    if isinstance(server, StdioServer):
        env = dict(server.env)
        for key, value in server.env.items():
            if is_secret(key, value):
                var = _claim(_var_name(server.name, key), value, taken)
                env[key] = "${" + var + "}"
                moved.append(MovedSecret(server.name, "env", key, var))
        return (server.model_copy(update={"env": env}) if moved else server), moved
    if isinstance(server, (HttpServer, SseServer)):
        headers = dict(server.headers)
        for key, value in server.headers.items():
            if not is_secret(key, value):
                continue
            scheme = _SCHEME.match(value)
            secret = scheme.group(2) if scheme else value
            var = _claim(_var_name(server.name, key), secret, taken)
            headers[key] = (f"{scheme.group(1)} " if scheme else "") + "${" + var + "}"
            moved.append(MovedSecret(server.name, "headers", key, var))
        return (server.model_copy(update={"headers": headers}) if moved else server), moved
    return server, moved


def dotenv_path(home: Path) -> Path:
    return home / DOTENV


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (``#`` comments, optional ``export``, quoted values)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            continue
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = value[1:-1]
        elif len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        out[key] = value
    return out


def write_dotenv(path: Path, values: Mapping[str, str]) -> None:
    """Merge ``values`` into the file (mode 0600; existing lines and comments kept)."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    current = read_dotenv(path)
    lines = existing.splitlines()
    for key, value in values.items():
        rendered = f"{key}={json.dumps(value, ensure_ascii=False)}"
        if key in current:
            lines = [rendered if (m := _LINE.match(line)) and m.group(1) == key else line for line in lines]
        else:
            lines.append(rendered)
    header = (
        [] if existing else ["# secrets UCP moved out of host configs (referenced as ${VAR} in ucp.toml)"]
    )
    atomic_write_text(path, "\n".join([*header, *lines]) + "\n", new_mode=0o600)
    os.chmod(path, 0o600)


_cache: dict[Path, tuple[float, dict[str, str]]] = {}


def dotenv_value(home: Path, name: str) -> str | None:
    """``name`` from the home's ``.env`` (re-read when the file changes), or None."""
    path = dotenv_path(home)
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _cache.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, read_dotenv(path))
        _cache[path] = cached
    return cached[1].get(name)


def load_dotenv(home: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Put the home's ``.env`` into the environment (set variables win); returns the names set."""
    env = os.environ if environ is None else environ
    added = []
    for key, value in read_dotenv(dotenv_path(home)).items():
        if key not in env:
            env[key] = value
            added.append(key)
    return added
