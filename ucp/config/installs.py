"""What ``ucp install`` did to each host file, so ``ucp uninstall`` can undo it exactly.

Each install that changes a host file is recorded in ``$UCP_HOME/state/installs.json``: the
file, its backup, the hash of what UCP wrote and the entries a take-over moved into UCP.
``plan_uninstall`` then restores the backup byte for byte when the file is still what UCP
wrote; when the user changed it since, it removes only the ``ucp`` entry and puts the moved
entries back from the backup, keeping the user's later edits.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ucp.config.hostfile import digest, read_text, remove_entry, servers_in, set_entry, unified_diff
from ucp.config.hosts import ENTRY_NAME
from ucp.errors import RegistryError
from ucp.fileio import atomic_write_text


@dataclass
class InstallRecord:
    host: str
    file: str
    backup: str | None  # None: the file did not exist before
    written: str  # sha256 of the text UCP wrote
    moved: list[str] = field(default_factory=list)  # host entries a take-over moved into UCP
    time: float = 0.0


def records_path(home: Path) -> Path:
    return home / "state" / "installs.json"


def load_records(home: Path) -> dict[str, InstallRecord]:
    path = records_path(home)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"cannot read {path}: {exc}; move it away to start over", file=str(path)
        ) from None
    return {k: InstallRecord(**v) for k, v in raw.items() if isinstance(v, dict)}


def _save(home: Path, records: dict[str, InstallRecord]) -> None:
    path = records_path(home)
    data = {k: asdict(v) for k, v in records.items()}
    try:
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise RegistryError(f"cannot write {path}: {exc}", file=str(path)) from None


def save_record(
    home: Path, host: str, path: Path, backup: Path | None, written: str, moved: list[str]
) -> InstallRecord:
    records = load_records(home)
    key = str(path)
    previous = records.get(key)
    # a second install over our own one keeps the first backup: uninstall goes back to before UCP
    if previous is not None and previous.host == host:
        backup_str = previous.backup
        moved = sorted({*previous.moved, *moved})
    else:
        backup_str = str(backup) if backup else None
    record = InstallRecord(host, key, backup_str, written, moved, time.time())
    records[key] = record
    _save(home, records)
    return record


def drop_record(home: Path, path: Path) -> None:
    records = load_records(home)
    if records.pop(str(path), None) is not None:
        _save(home, records)


UninstallAction = Literal["restore", "remove", "absent"]


@dataclass(frozen=True)
class UninstallPlan:
    host: str
    path: Path
    before: str | None
    after: str | None  # None: the file is deleted (it did not exist before UCP)
    action: UninstallAction
    record: InstallRecord | None
    restored: tuple[str, ...] = ()  # entries put back

    def diff(self) -> str:
        return unified_diff(self.path, self.before, self.after)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "file": str(self.path),
            "action": self.action,
            "restored": list(self.restored),
        }


def plan_uninstall(host: str, path: Path, record: InstallRecord | None) -> UninstallPlan:
    file = str(path)
    before = read_text(path)
    if record is not None and record.host == host and digest(before) == record.written:
        if record.backup is None:
            return UninstallPlan(host, path, before, None, "restore", record, tuple(record.moved))
        backup = Path(record.backup)
        old = read_text(backup)
        if old is None:
            raise RegistryError(
                f"the backup {backup} is gone: cannot restore {path}; remove the 'ucp' entry by hand",
                file=file,
            )
        return UninstallPlan(host, path, before, old, "restore", record, tuple(record.moved))
    if before is None:
        return UninstallPlan(host, path, None, None, "absent", record)
    text = before
    if ENTRY_NAME in servers_in(host, before, file=file):
        text = remove_entry(host, text, ENTRY_NAME, file=file)
    restored: list[str] = []
    if record is not None and record.moved and record.backup:
        old_servers = servers_in(host, read_text(Path(record.backup)), file=record.backup)
        current = servers_in(host, text, file=file)
        for name in record.moved:
            if name in old_servers and name not in current:
                text = set_entry(host, text, name, old_servers[name], file=file)
                restored.append(name)
    if text == before:
        return UninstallPlan(host, path, before, before, "absent", record)
    return UninstallPlan(host, path, before, text, "remove", record, tuple(restored))
