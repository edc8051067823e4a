"""Static API keys: created by ``ucp keys create``, kept hashed in ``UCP_HOME/keys.json``.

A key is ``ucpk_<id>_<secret>``; only ``sha256`` of the whole key is stored, with
who holds it, its scopes and roles, its tenant, an expiry and a revocation time.
The running gateway re-reads the file when it changes (checked at most once a
second), so ``ucp keys revoke`` takes effect without a restart. Keys declared in
the config (``[auth.keys.<id>]``, ``[http] api_keys``, ``UCP_API_KEYS``) are
accepted too; legacy ``[http]`` keys carry no scopes and no roles.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ucp.config.models import AuthSettings, HttpSettings
from ucp.errors import AuthError, ConfigError
from ucp.fileio import atomic_write_text
from ucp.identity import DEFAULT_TENANT, Identity

PREFIX = "ucpk_"
RELOAD_SECONDS = 1.0


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass
class KeyRecord:
    id: str
    hash: str
    subject: str = ""
    scopes: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    tenant: str = DEFAULT_TENANT
    created: float = 0.0
    expires: float | None = None
    revoked: float | None = None
    source: str = "file"  # file | config | env
    operator: bool = False  # legacy [http] / environment keys: the operator, as before policies

    def identity(self) -> Identity:
        return Identity(
            subject=self.subject or f"key:{self.id}",
            tenant=self.tenant,
            via="key",
            scopes=frozenset(self.scopes),
            roles=frozenset(self.roles),
            key_id=self.id,
            expires_at=self.expires,
            operator=self.operator,
        )

    def public(self) -> dict[str, Any]:
        """What ``ucp keys list`` shows: everything but the hash."""
        out = asdict(self)
        out.pop("hash")
        return out


def _read(path: Path) -> dict[str, KeyRecord]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the key store: {exc}", file=str(path)) from None
    keys = raw.get("keys", {}) if isinstance(raw, dict) else {}
    out: dict[str, KeyRecord] = {}
    for key_id, data in keys.items():
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k in KeyRecord.__dataclass_fields__ and k != "id"}
            out[key_id] = KeyRecord(id=key_id, **data)
    return out


class KeyFile:
    """The key store file: create, list and revoke keys (the CLI's side)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> dict[str, KeyRecord]:
        return _read(self.path)

    def _write(self, records: Mapping[str, KeyRecord]) -> None:
        data = {"keys": {k: {f: v for f, v in asdict(r).items() if f != "id"} for k, r in records.items()}}
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n", new_mode=0o600)

    def create(
        self,
        *,
        subject: str = "",
        scopes: tuple[str, ...] = (),
        roles: tuple[str, ...] = (),
        tenant: str = DEFAULT_TENANT,
        expires_in: float | None = None,
        now: float | None = None,
    ) -> tuple[str, KeyRecord]:
        """A new key: the plain key (shown once, never stored) and its record."""
        records = self.records()
        key_id = secrets.token_hex(4)
        while key_id in records:
            key_id = secrets.token_hex(4)
        plain = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        created = time.time() if now is None else now
        record = KeyRecord(
            id=key_id,
            hash=hash_key(plain),
            subject=subject,
            scopes=list(scopes),
            roles=list(roles),
            tenant=tenant,
            created=created,
            expires=created + expires_in if expires_in else None,
        )
        records[key_id] = record
        self._write(records)
        return plain, record

    def revoke(self, key_id: str, *, now: float | None = None) -> KeyRecord:
        records = self.records()
        if key_id not in records:
            raise ConfigError(f"no key {key_id!r} (see `ucp keys list`)", file=str(self.path), entry=key_id)
        record = records[key_id]
        if record.revoked is None:
            record.revoked = time.time() if now is None else now
            self._write(records)
        return record


def config_keys(auth: AuthSettings, http: HttpSettings, env: Mapping[str, str]) -> dict[str, KeyRecord]:
    """Keys declared in the config and the environment, by hash."""
    out: dict[str, KeyRecord] = {}
    for key_id, k in auth.keys.items():
        out[k.hash.lower()] = KeyRecord(
            id=key_id,
            hash=k.hash.lower(),
            subject=k.subject,
            scopes=list(k.scopes),
            roles=list(k.roles),
            tenant=k.tenant,
            expires=k.expires,
            source="config",
        )
    for entry in http.api_keys:
        if not entry.startswith("sha256:") or len(entry) != 7 + 64:
            raise ConfigError(
                "API keys in the config must be hashes 'sha256:<64 hex>' (`printf %s KEY | sha256sum` "
                "gives the hex; or create keys with `ucp keys create`), never plain keys; plain keys go in "
                "the UCP_API_KEYS environment variable",
                field="http.api_keys",
            )
        out[entry.lower()] = KeyRecord(
            id=entry[7:15].lower(), hash=entry.lower(), source="config", operator=True
        )
    for plain in env.get(http.api_keys_env, "").split(","):
        if plain.strip():
            digest = hash_key(plain.strip())
            out[digest] = KeyRecord(id=digest[7:15], hash=digest, source="env", operator=True)
    return out


class KeyVerifier:
    """Bearer key -> ``Identity`` (or ``AuthError``), over the config's keys and the key file."""

    def __init__(self, static: Mapping[str, KeyRecord], path: Path | None) -> None:
        self._static = dict(static)
        self._path = path
        self._file: dict[str, KeyRecord] = {}
        self._mtime: float | None = None
        self._checked = 0.0
        self._reload(force=True)

    def _reload(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_SECONDS:
            return
        self._checked = now
        if self._path is None:
            return
        try:
            mtime: float | None = os.stat(self._path).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime and not force:
            return
        self._mtime = mtime
        self._file = {r.hash.lower(): r for r in _read(self._path).values()} if mtime is not None else {}

    @property
    def configured(self) -> bool:
        self._reload()
        return bool(self._static or self._file)

    def verify(self, key: str, *, now: float | None = None) -> Identity:
        self._reload()
        digest = hash_key(key)
        record = self._file.get(digest) or self._static.get(digest)
        if record is None or not hmac.compare_digest(record.hash.lower(), digest):
            raise AuthError("invalid bearer token or API key", reason="unknown_key")
        moment = time.time() if now is None else now
        if record.revoked is not None:
            raise AuthError(f"API key {record.id} was revoked", reason="revoked_key", key_id=record.id)
        if record.expires is not None and moment >= record.expires:
            raise AuthError(f"API key {record.id} expired", reason="expired_key", key_id=record.id)
        return record.identity()
