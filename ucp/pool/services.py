"""Services that register themselves with UCP over HTTP, and leave when they stop.

A service ``POST``s ``{name, manual_url | base_url, tags, version, environment}``
to ``/registry/services``: UCP checks the URL (SSRF guard), stores the record in
``$UCP_HOME/services.json`` (atomically; registrations survive restarts) and adds
a ``utcp`` server for it to the pool, so its tools join the same catalog and
router as every other tool. Registering an existing service again replaces it
(a restarted service simply registers again). Health is the pool's: the manual
is re-fetched every ``[http] health_interval`` seconds; after two failed checks
the connection restarts, the service turns unhealthy and its tools leave search
results, and they return when a check succeeds again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio

from ucp.config.models import HttpSettings, ServerConfig, UtcpServer, validate_server_name
from ucp.downstream.urlsafety import check_url, redact_url
from ucp.errors import DuplicateServerError, RegistryError, UnknownServerError
from ucp.fileio import atomic_write_text
from ucp.log import get_logger
from ucp.pool.connection import Connection
from ucp.pool.pool import Pool, ServerSpec

log = get_logger("ucp.services")

SOURCE = "service"
FILE_VERSION = 1


@dataclass(frozen=True)
class ServiceRecord:
    """One registered service, as persisted in ``services.json``."""

    name: str
    manual_url: str
    base_url: str | None = None
    tags: tuple[str, ...] = ()
    version: str = ""
    environment: str = ""
    description: str = ""
    registered_at: float = field(default_factory=time.time)

    def server_config(self) -> UtcpServer:
        described = self.description or " ".join(
            p for p in (f"version {self.version}" if self.version else "", self.environment) if p
        )
        return UtcpServer(name=self.name, manual=self.manual_url, tags=self.tags, description=described)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tags"] = list(self.tags)
        return out


def manual_url_for(manual_url: str | None, base_url: str | None) -> str:
    if manual_url:
        return manual_url.strip()
    if base_url:
        return base_url.strip().rstrip("/") + "/utcp"
    raise RegistryError(
        "give manual_url (the service's UTCP manual) or base_url (UCP reads <base_url>/utcp)",
        field="manual_url",
    )


class SelfRegisteredServices:
    """The services in the pool that registered themselves (``/registry/services``)."""

    def __init__(
        self, pool: Pool, path: Path, http: HttpSettings, spec_for: Callable[[ServerConfig], ServerSpec]
    ) -> None:
        self.pool = pool
        self.path = path
        self.http = http
        self._spec_for = spec_for  # ServerConfig -> ServerSpec, as for configured servers
        self.records: dict[str, ServiceRecord] = {}
        self._lock = anyio.Lock()

    # ------------------------------------------------------------ persistence
    def _read(self) -> dict[str, ServiceRecord]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error(
                "services_file_unreadable",
                file=str(self.path),
                error=str(exc)[:200],
                action="starting without self-registered services",
            )
            return {}
        out: dict[str, ServiceRecord] = {}
        for raw in (data.get("services") or {}).values() if isinstance(data, dict) else ():
            try:
                record = ServiceRecord(**{**raw, "tags": tuple(raw.get("tags") or ())})
                validate_server_name(record.name)
                if not record.manual_url.lower().startswith(("http://", "https://")):
                    raise ValueError("manual_url is not an http(s) URL")
            except (TypeError, ValueError, AttributeError) as exc:
                log.warning("services_entry_skipped", file=str(self.path), error=str(exc)[:200])
                continue
            out[record.name] = record
        return out

    def _write(self) -> None:
        data = {
            "version": FILE_VERSION,
            "services": {n: r.to_dict() for n, r in sorted(self.records.items())},
        }
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True))

    # ------------------------------------------------------------ lifecycle
    def load(self) -> None:
        """Add the persisted services to the pool (at gateway start)."""
        self.records = self._read()
        for record in self.records.values():
            if record.name in self.pool.specs:
                log.warning(
                    "service_name_taken", service=record.name, action="skipped; a configured server has it"
                )
                continue
            self._add(record)
        if self.records:
            log.info("services_loaded", count=len(self.records))

    def _add(self, record: ServiceRecord) -> None:
        spec = self._spec_for(record.server_config())
        self.pool.add(replace(spec, source=SOURCE, health_interval=self.http.health_interval))

    # ------------------------------------------------------------ operations
    async def register(
        self,
        name: str,
        *,
        manual_url: str | None = None,
        base_url: str | None = None,
        tags: tuple[str, ...] = (),
        version: str = "",
        environment: str = "",
        description: str = "",
        wait: float = 5.0,
    ) -> tuple[ServiceRecord, bool]:
        """Register (or replace) a service; ``(record, created)``. Raises ``UnsafeURLError``,
        ``DuplicateServerError`` (a configured server has the name) or ``RegistryError``."""
        try:
            validate_server_name(name)
        except ValueError as exc:
            raise RegistryError(str(exc), field="name") from None
        url = manual_url_for(manual_url, base_url)
        http = self.http
        await check_url(
            url, allow_private=http.allow_private_networks, allow_loopback=http.allow_loopback_fetch
        )
        record = ServiceRecord(
            name=name,
            manual_url=url,
            base_url=base_url,
            tags=tuple(tags),
            version=version,
            environment=environment,
            description=description,
        )
        async with self._lock:
            spec = self.pool.specs.get(name)
            if spec is not None and spec.source != SOURCE:
                raise DuplicateServerError(
                    f"the name {name!r} belongs to a configured server; register the service under another name",
                    server=name,
                )
            created = name not in self.records
            if spec is not None:
                await self.pool.remove(name)
            self.records[name] = record
            self._write()
            self._add(record)
        log.info(
            "service_registered",
            service=name,
            url=redact_url(url),
            created=created,
            version=version,
            environment=environment,
        )
        conn = self.pool.connections.get(name)
        if conn is not None and wait > 0:
            with anyio.move_on_after(wait):
                await conn.first_attempt_done.wait()
        return record, created

    async def deregister(self, name: str) -> ServiceRecord:
        async with self._lock:
            record = self.records.get(name)
            if record is None:
                raise UnknownServerError(f"no registered service {name!r}", server=name)
            del self.records[name]
            self._write()
            spec = self.pool.specs.get(name)
            if spec is not None and spec.source == SOURCE:
                await self.pool.remove(name)
        log.info("service_deregistered", service=name)
        return record

    def get(self, name: str) -> ServiceRecord:
        record = self.records.get(name)
        if record is None:
            raise UnknownServerError(f"no registered service {name!r}", server=name)
        return record

    def all(self) -> list[ServiceRecord]:
        return [self.records[n] for n in sorted(self.records)]

    def _connection(self, name: str) -> Connection | None:
        spec = self.pool.specs.get(name)
        return self.pool.connections.get(name) if spec is not None and spec.source == SOURCE else None

    def health(self, name: str) -> dict[str, Any]:
        """Per service: healthy, state, last check (time, ok, latency), tool count, last error."""
        conn = self._connection(name)
        if conn is None:
            return {
                "name": name,
                "healthy": False,
                "state": "absent",
                "last_check": None,
                "last_check_ok": None,
                "latency_ms": None,
                "tool_count": 0,
                "last_error": None,
                "health_interval": None,
            }
        return {
            "name": name,
            "healthy": conn.healthy,
            "state": conn.state,
            "last_check": conn.last_check_at,
            "last_check_ok": conn.last_check_ok,
            "latency_ms": conn.last_latency_ms,
            "tool_count": len(conn.snapshot.tools),
            "last_error": conn.last_error,
            "health_interval": conn.health_interval,
        }
