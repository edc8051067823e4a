"""The audit log: one JSON line per call, denial and admin action, append-only, rotated.

Each line has the time, the event (``call``, ``denied``, ``rate_limited``,
``auth_denied``, ``admin``), tenant, identity (subject and how it was
authenticated), session, tool, outcome, duration and an argument digest: an
HMAC-SHA256 of the canonical JSON of the arguments under a per-install key
(``audit/.digest-key``, 0600), so equal arguments can be matched by whoever holds
the key, but low-entropy values cannot be guessed from the log. The arguments
themselves are written only with ``[audit] arguments = "full"``. Tokens, keys and
``Authorization`` headers are never written.

The file is ``UCP_HOME/audit/audit.jsonl``, opened ``O_APPEND`` (0600); past
``max_bytes`` it is renamed ``audit.jsonl.1`` (older ones shift, ``keep`` kept).
``read`` walks the rotated files oldest first for ``ucp audit``.

Shared state with PostgreSQL: each line also gets an ``id`` and the ``replica`` name and goes to
the ``ucp.state.audit`` spool in the same synchronous step; ``ship`` moves the spool into one
PostgreSQL table every replica writes to (``ucp audit`` reads it). If the spool cannot be written
the failure is logged as an error, like the local file's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ucp.config.models import AuditSettings
from ucp.identity import Identity
from ucp.log import get_logger
from ucp.state.audit import AuditShipper

log = get_logger("ucp.audit")

FILENAME = "audit.jsonl"


def _digest_key(directory: Path) -> bytes:
    path = directory / ".digest-key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key.hex())
        return key


class AuditLog:
    def __init__(
        self,
        directory: Path,
        settings: AuditSettings | None = None,
        *,
        shipper: AuditShipper | None = None,
        replica: str = "",
    ) -> None:
        self.directory = directory
        self.settings = settings or AuditSettings()
        self.shipper = shipper
        self.replica = replica
        self.path = directory / FILENAME
        self._fh: IO[str] | None = None
        self._size = 0
        self._key: bytes | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def _open(self) -> IO[str]:
        if self._fh is None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._fh = os.fdopen(fd, "a", encoding="utf-8", newline="\n")
            self._size = os.fstat(fd).st_size
        return self._fh

    def digest(self, arguments: Any) -> str:
        if self._key is None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._key = _digest_key(self.directory)
        canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str).encode()
        return "hmac-sha256:" + hmac.new(self._key, canonical, hashlib.sha256).hexdigest()[:32]

    def record(
        self,
        event: str,
        *,
        identity: Identity | None = None,
        session_id: str | None = None,
        tool: str | None = None,
        outcome: str = "ok",
        duration_ms: float | None = None,
        arguments: Any = None,
        **extra: Any,
    ) -> None:
        if not self.settings.enabled:
            return
        line: dict[str, Any] = {"time": round(time.time(), 3), "event": event, "outcome": outcome}
        if self.shipper is not None:
            line["id"] = secrets.token_hex(12)
            line["replica"] = self.replica
        if identity is not None:
            line["tenant"] = identity.tenant
            line["identity"] = identity.subject
            line["via"] = identity.via
            if identity.key_id:
                line["key_id"] = identity.key_id
        if session_id:
            line["session"] = session_id
        if tool:
            line["tool"] = tool
        if duration_ms is not None:
            line["duration_ms"] = round(duration_ms, 3)
        if arguments is not None:
            line["args_digest"] = self.digest(arguments)
            if self.settings.arguments == "full":
                line["arguments"] = arguments
        line.update({k: v for k, v in extra.items() if v is not None})
        text = json.dumps(line, ensure_ascii=False, default=str) + "\n"
        try:
            fh = self._open()
            fh.write(text)
            fh.flush()
            self._size += len(text.encode("utf-8"))
            if self._size > self.settings.max_bytes:
                self.rotate()
        except OSError as exc:
            log.error("audit_write_failed", error=str(exc))
        if self.shipper is not None:
            try:
                self.shipper.append(text)
            except OSError as exc:
                log.error("audit_spool_write_failed", error=str(exc))

    def ship(self) -> int:
        """Move spooled lines to the shared store (0 without one)."""
        return self.shipper.ship() if self.shipper is not None else 0

    def rotate(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for i in range(self.settings.keep - 1, 0, -1):
            older = self.directory / f"{FILENAME}.{i}"
            if older.exists():
                older.replace(self.directory / f"{FILENAME}.{i + 1}")
        if self.path.exists():
            self.path.replace(self.directory / f"{FILENAME}.1")
        extra = self.directory / f"{FILENAME}.{self.settings.keep + 1}"
        extra.unlink(missing_ok=True)
        self._size = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self.shipper is not None:
            self.shipper.close()


def files(directory: Path) -> list[Path]:
    """The log and its rotations, oldest first."""
    rotated = sorted(
        (p for p in directory.glob(f"{FILENAME}.*") if p.suffix.lstrip(".").isdigit()),
        key=lambda p: -int(p.suffix.lstrip(".")),
    )
    current = directory / FILENAME
    return [*rotated, *([current] if current.exists() else [])]


def read(
    directory: Path,
    *,
    since: float | None = None,
    event: str | None = None,
    tenant: str | None = None,
    identity: str | None = None,
    tool: str | None = None,
    outcome: str | None = None,
    source: Iterable[dict[str, Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Lines matching every filter given (``tool`` may be an ``fnmatch`` glob), from the files under
    ``directory`` or from ``source`` (the shared store's lines)."""
    from fnmatch import fnmatchcase

    def local() -> Iterator[dict[str, Any]]:
        for path in files(directory):
            with path.open(encoding="utf-8") as fh:
                for raw in fh:
                    try:
                        yield json.loads(raw)
                    except ValueError:
                        continue

    for line in local() if source is None else source:
        if since is not None and line.get("time", 0) < since:
            continue
        if event and line.get("event") != event:
            continue
        if tenant and line.get("tenant") != tenant:
            continue
        if identity and line.get("identity") != identity:
            continue
        if outcome and line.get("outcome") != outcome:
            continue
        if tool and not fnmatchcase(str(line.get("tool", "")), tool):
            continue
        yield line
