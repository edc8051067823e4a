"""A host's config file, read and edited without disturbing anything else in it.

``plan_install`` reads the file and computes the new text (pure: ``--dry-run`` prints it);
``apply_install`` backs the old file up as ``<file>.bak-<timestamp>`` and replaces it
atomically. JSON and JSONC files (VS Code, Zed) are edited by splicing (``ucp.config.jsonc``):
comments, order and indentation are kept byte for byte outside the entries that change.
Codex's TOML is edited with ``tomlkit`` (comments kept). goose's YAML is re-written with
PyYAML: its comments are not kept (the backup is). An existing, different ``ucp`` entry is
only replaced with ``force``; other entries are removed only when asked (``remove``: the
servers a take-over moved into UCP).
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ucp.config import jsonc
from ucp.config.hosts import ENTRY_NAME, get_host
from ucp.errors import ConfigError, RegistryError
from ucp.fileio import atomic_write_text

Action = Literal["add", "update", "unchanged"]


def digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist."""
    if not path.exists():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file: {exc}", file=str(path)) from None


def parse(host: str, text: str | None, *, file: str) -> dict[str, Any]:
    """The file's data (empty for a missing or blank file); unreadable content is a ``ConfigError``."""
    if text is None or not text.strip():
        return {}
    syntax = get_host(host).syntax
    import yaml  # lazy, like tomlkit below: only the commands that edit host files pay for them

    try:
        if syntax in ("json", "jsonc"):
            data = jsonc.loads(text)
        elif syntax == "toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except jsonc.JsoncError as exc:
        raise ConfigError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix it, or add the snippet "
            f"of `ucp install --print {host}` by hand",
            file=file,
        ) from None
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"not valid {syntax.upper()}: {exc}", file=file) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"not a host config: expected a {'table' if syntax == 'toml' else 'JSON object'} at the top level",
            file=file,
        )
    key = get_host(host).key
    if key in data and not isinstance(data[key], dict):
        raise ConfigError(f"'{key}' must be an object", file=file, field=key)
    return data


def servers_in(host: str, text: str | None, *, file: str) -> dict[str, Any]:
    """The host's server entries, as written."""
    data = parse(host, text, file=file)
    servers = data.get(get_host(host).key) or {}
    return dict(servers)


def set_entry(host: str, text: str | None, name: str, entry: Mapping[str, Any], *, file: str) -> str:
    import tomlkit
    import yaml

    spec = get_host(host)
    parse(host, text, file=file)  # validates
    if spec.syntax in ("json", "jsonc"):
        return jsonc.set_member(text or "", [spec.key], name, dict(entry))
    if spec.syntax == "toml":
        doc = tomlkit.parse(text or "")
        if spec.key not in doc:
            doc[spec.key] = tomlkit.table(is_super_table=True)
        table = doc[spec.key]
        assert isinstance(table, dict)
        table[name] = dict(entry)
        return tomlkit.dumps(doc)
    data = parse(host, text, file=file)
    data.setdefault(spec.key, {})[name] = dict(entry)
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def remove_entry(host: str, text: str, name: str, *, file: str) -> str:
    import tomlkit
    import yaml

    spec = get_host(host)
    if name not in servers_in(host, text, file=file):
        return text
    if spec.syntax in ("json", "jsonc"):
        return jsonc.remove_member(text, [spec.key], name)
    if spec.syntax == "toml":
        doc = tomlkit.parse(text)
        table = doc[spec.key]
        assert isinstance(table, dict)
        del table[name]
        return tomlkit.dumps(doc)
    data = parse(host, text, file=file)
    del data[spec.key][name]
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@dataclass(frozen=True)
class InstallPlan:
    host: str
    path: Path
    before: str | None  # the file's text (None: it does not exist)
    after: str
    action: Action
    entry: dict[str, Any]
    removed: tuple[str, ...] = field(default=())  # host entries taken out (moved into UCP)

    @property
    def changes(self) -> bool:
        return self.after != self.before

    def diff(self) -> str:
        return unified_diff(self.path, self.before, self.after)


def unified_diff(path: Path, before: str | None, after: str | None) -> str:
    old = (before or "").splitlines(keepends=True)
    new = (after or "").splitlines(keepends=True)
    label = str(path) if before is not None else "/dev/null"
    return "".join(difflib.unified_diff(old, new, label, str(path) if after is not None else "/dev/null"))


def plan_install(
    host: str,
    entry: Mapping[str, Any],
    *,
    path: Path,
    name: str = ENTRY_NAME,
    force: bool = False,
    remove: Sequence[str] = (),
) -> InstallPlan:
    """Compute the host file with ``entry`` merged in (and ``remove``'s entries taken out)."""
    file = str(path)
    before = read_text(path)
    servers = servers_in(host, before, file=file)
    current = servers.get(name)
    if current == dict(entry):
        action: Action = "unchanged"
    elif current is not None and not force:
        raise RegistryError(
            f"{path} already has a different {name!r} entry: {current}; "
            "pass --force to replace it (a backup is kept)",
            file=file,
        )
    else:
        action = "update" if current is not None else "add"
    text = before
    removed = tuple(n for n in remove if n in servers and n != name)
    for other in removed:
        assert text is not None
        text = remove_entry(host, text, other, file=file)
    if action != "unchanged":
        text = set_entry(host, text, name, entry, file=file)
    after = text if text is not None else ""
    if after and not after.endswith("\n"):
        after += "\n"
    if action == "unchanged" and not removed and before is not None:
        after = before
    return InstallPlan(host, path, before, after, action, dict(entry), removed)


def backup_path(path: Path, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    backup = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while backup.exists():
        backup = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        n += 1
    return backup


def replace_file(
    path: Path, expected: str | None, after: str | None, *, now: float | None = None
) -> Path | None:
    """Write ``after`` over ``path`` (``None``: delete it) if it still reads ``expected``;
    the old file is copied to a backup first. Returns the backup."""
    try:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != expected:
            raise RegistryError(f"{path} changed meanwhile; run the command again", file=str(path))
        backup = None
        if expected is not None:
            backup = backup_path(path, now)
            shutil.copy2(path, backup)
        if after is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write_text(path, after)
    except OSError as exc:
        raise RegistryError(f"cannot write {path}: {exc}", file=str(path)) from None
    return backup


def apply_install(plan: InstallPlan, *, now: float | None = None) -> Path | None:
    """Write the plan: back the old file up, replace atomically. Returns the backup path."""
    if not plan.changes:
        return None
    return replace_file(plan.path, plan.before, plan.after, now=now)


def keeps_comments(host: str) -> bool:
    return get_host(host).syntax != "yaml"
