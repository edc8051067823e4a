"""The catalog of well-known servers (``registry/catalog/<name>.toml``, one file each).

Each file says what a server is (name, description, homepage, tags), what it needs
(``requires``) and how to launch it (``launch``: a registry entry, ``${VAR}`` placeholders
kept). ``ucp registry add --from-catalog NAME`` turns one into a registry entry. The
schema of a file is ``registry/schema/registry-entry.schema.json``.

Where the files are found, first existing wins:
1. ``$UCP_CATALOG_DIR``;
2. ``registry/catalog`` of the source checkout this package runs from;
3. ``<prefix>/share/ucp/registry/catalog``: an installed wheel's data files, under the
   environment's prefix (a venv, ``pipx``, ``uv tool``) or the user base (``pip install --user``).
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ucp.config.loader import parse_server
from ucp.config.models import ServerConfig
from ucp.errors import ConfigError, UnknownServerError
from ucp.naming import suggest

CATALOG_ENV = "UCP_CATALOG_DIR"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def catalog_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """Candidate catalog folders, in the order they are tried."""
    environ = os.environ if env is None else env
    out = []
    if environ.get(CATALOG_ENV):
        out.append(Path(environ[CATALOG_ENV]).expanduser())
    out.append(_REPO_ROOT / "registry" / "catalog")
    prefixes = [sys.prefix, sysconfig.get_path("data"), site.getuserbase()]
    for prefix in dict.fromkeys(prefixes):
        out.append(Path(prefix) / "share" / "ucp" / "registry" / "catalog")
    return out


def find_catalog_dir(env: Mapping[str, str] | None = None) -> Path | None:
    return next((d for d in catalog_dirs(env) if d.is_dir()), None)


def schema_path(catalog_dir: Path) -> Path:
    """The JSON Schema beside a catalog folder (``registry/schema/registry-entry.schema.json``)."""
    return catalog_dir.parent / "schema" / "registry-entry.schema.json"


@dataclass(frozen=True)
class KnownServer:
    """One catalog entry."""

    name: str
    description: str
    homepage: str
    requires: tuple[str, ...]
    launch: Mapping[str, Any]
    tags: tuple[str, ...] = ()
    usage: str = ""
    path: Path | None = None

    def to_server(
        self, name: str | None = None, *, extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None
    ) -> ServerConfig:
        """The registry entry for this server, optionally renamed, with extra args / env."""
        raw: dict[str, Any] = {"description": self.description, "tags": list(self.tags), **dict(self.launch)}
        if extra_args or env:
            if raw.get("type", "stdio") != "stdio" or "command" not in raw:
                raise ConfigError(
                    f"{self.name!r} is not a stdio server: extra arguments and --env do not apply",
                    entry=self.name,
                )
            raw["args"] = [*raw.get("args", []), *extra_args]
            raw["env"] = {**raw.get("env", {}), **dict(env or {})}
        return parse_server(name or self.name, raw, file=str(self.path or "<catalog>"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "homepage": self.homepage,
            "requires": list(self.requires),
            "tags": list(self.tags),
            "usage": self.usage,
            "launch": dict(self.launch),
        }


def read_entry(path: Path) -> KnownServer:
    """Parse one catalog file; every problem is a ``ConfigError`` naming the file."""
    file = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the catalog entry: {exc}", file=file) from None
    for key in ("name", "description", "homepage", "launch"):
        if key not in data:
            raise ConfigError(f"missing key {key!r}", file=file, field=key)
    if data["name"] != path.stem:
        raise ConfigError(
            f"name {data['name']!r} differs from the file name {path.stem!r}", file=file, field="name"
        )
    launch = data["launch"]
    if not isinstance(launch, dict):
        raise ConfigError("'launch' must be a table", file=file, field="launch")
    entry = KnownServer(
        name=str(data["name"]),
        description=str(data["description"]),
        homepage=str(data["homepage"]),
        requires=tuple(str(r) for r in data.get("requires", ())),
        launch=launch,
        tags=tuple(str(t) for t in data.get("tags", ())),
        usage=str(data.get("usage", "")),
        path=path,
    )
    entry.to_server()  # the launch table must be a valid registry entry
    return entry


def load_catalog(directory: Path | None = None) -> dict[str, KnownServer]:
    """Every catalog entry by name (empty if no catalog folder is found)."""
    folder = directory if directory is not None else find_catalog_dir()
    if folder is None:
        return {}
    return {e.name: e for e in (read_entry(p) for p in sorted(folder.glob("*.toml")))}


def get_known(name: str, directory: Path | None = None) -> KnownServer:
    catalog = load_catalog(directory)
    if name in catalog:
        return catalog[name]
    if not catalog:
        raise UnknownServerError(
            f"no server catalog found (looked in {', '.join(str(d) for d in catalog_dirs())}); "
            f"set {CATALOG_ENV} to a folder of catalog files",
            server=name,
            suggestions=[],
        )
    near = suggest(name, list(catalog))
    hint = f"Did you mean: {', '.join(near)}? " if near else ""
    raise UnknownServerError(
        f"no server {name!r} in the catalog. {hint}Known: {', '.join(sorted(catalog))} (`ucp registry catalog`)",
        server=name,
        suggestions=near,
    )
