"""Moving a host's servers into UCP: ``ucp install HOST --take-over`` and
``ucp registry import --move FILE``.

In order, so that a failure never loses a server: read the host file; convert its entries
(bare commands resolved to absolute paths, literal secrets replaced by ``${VAR}``); check
the host-file change can be made (a conflicting ``ucp`` entry stops everything here); write
the secrets to ``$UCP_HOME/.env`` (0600); import into the registry; then rewrite the host
file with the ``ucp`` entry instead of the moved ones (backup kept) and record the install
so ``ucp uninstall HOST`` restores the file exactly. Entries UCP cannot run (``${input:}``
references, disabled ones, unknown kinds) stay in the host file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ucp.config.hostfile import InstallPlan, apply_install, digest, parse, plan_install, read_text
from ucp.config.hosts import generic_entries
from ucp.config.installs import save_record
from ucp.config.models import ServerConfig
from ucp.config.registry import ImportReport, RegistryStore, resolve_command
from ucp.config.secrets import MovedSecret, dotenv_path, move_secrets, read_dotenv, write_dotenv


@dataclass
class TakeOver:
    host: str
    path: Path
    report: ImportReport
    plan: InstallPlan
    secrets: list[MovedSecret] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # server -> what resolution changed or found
    env_file: Path | None = None
    backup: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.report.to_dict(),
            "host": self.host,
            "file": str(self.path),
            "removed_from_host": list(self.plan.removed),
            "secrets": [s.to_dict() for s in self.secrets],
            "env_file": str(self.env_file) if self.env_file else None,
            "notes": self.notes,
            "backup": str(self.backup) if self.backup else None,
        }


class _Convert:
    """The per-entry rewrite (deterministic: a dry run and the real run agree)."""

    def __init__(self, existing_env: Mapping[str, str]) -> None:
        self.taken = dict(existing_env)
        self.original = dict(existing_env)
        self.secrets: list[MovedSecret] = []
        self.notes: dict[str, str] = {}

    def __call__(self, server: ServerConfig) -> ServerConfig:
        server, note = resolve_command(server)
        if note:
            self.notes[server.name] = note
        server, moved = move_secrets(server, self.taken)
        self.secrets.extend(moved)
        return server

    def new_values(self) -> dict[str, str]:
        return {k: v for k, v in self.taken.items() if self.original.get(k) != v}


def take_over(
    host: str,
    path: Path,
    store: RegistryStore,
    home: Path,
    entry: Mapping[str, Any],
    *,
    dry_run: bool = False,
    force: bool = False,
    replace: bool = False,
) -> TakeOver:
    file = str(path)
    text = read_text(path)
    data = {"mcpServers": generic_entries(host, parse(host, text, file=file))}
    env_file = dotenv_path(home)
    existing = read_dotenv(env_file)

    convert = _Convert(existing)
    report = store.import_host(data, source=file, replace=replace, dry_run=True, transform=convert)
    plan = plan_install(host, entry, path=path, force=force, remove=report.moved_keys())
    result = TakeOver(
        host, path, report, plan, convert.secrets, convert.notes, env_file if convert.secrets else None
    )
    if dry_run:
        return result

    # the secrets first: a running ``ucp serve`` reloads the registry at once and resolves
    # its ${VAR} references from the .env file
    if convert.new_values():
        write_dotenv(env_file, convert.new_values())
    convert = _Convert(existing)
    report = store.import_host(data, source=file, replace=replace, dry_run=False, transform=convert)
    plan = plan_install(host, entry, path=path, force=force, remove=report.moved_keys())
    backup = apply_install(plan)
    if plan.changes:
        save_record(home, host, path, backup, digest(plan.after) or "", list(plan.removed))
    return TakeOver(
        host,
        path,
        report,
        plan,
        convert.secrets,
        convert.notes,
        env_file if convert.secrets else None,
        backup,
    )
