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

A registration may carry a ``ttl`` (seconds): it is a lease, dropped unless the service registers
again within it (a service replica that dies without deregistering leaves by itself). With shared
state the registry is Redis (``ucp.state.services``) instead of ``services.json``: a service
registered through any replica is served by all of them (``run`` reconciles each replica's pool
with the registry on every change and every few seconds), and leases expire in Redis.
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
from ucp.errors import DuplicateServerError, RegistryError, StoreUnavailableError, UnknownServerError
from ucp.fileio import atomic_write_text
from ucp.log import get_logger
from ucp.pool.connection import Connection
from ucp.pool.pool import Pool, ServerSpec
from ucp.state.services import SharedServices

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
    ttl: float | None = None  # a lease: dropped unless registered again within ttl seconds

    def expired(self, now: float) -> bool:
        return self.ttl is not None and now > self.registered_at + self.ttl

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


def _record(raw: dict[str, Any]) -> ServiceRecord:
    record = ServiceRecord(**{**raw, "tags": tuple(raw.get("tags") or ())})
    validate_server_name(record.name)
    if not record.manual_url.lower().startswith(("http://", "https://")):
        raise ValueError("manual_url is not an http(s) URL")
    return record


class SelfRegisteredServices:
    """The services in the pool that registered themselves (``/registry/services``)."""

    def __init__(
        self,
        pool: Pool,
        path: Path,
        http: HttpSettings,
        spec_for: Callable[[ServerConfig], ServerSpec],
        *,
        shared: SharedServices | None = None,
        reconcile_every: float = 5.0,
    ) -> None:
        self.pool = pool
        self.shared = shared
        self.reconcile_every = reconcile_every
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
                record = _record(raw)
            except (TypeError, ValueError, AttributeError) as exc:
                log.warning("services_entry_skipped", file=str(self.path), error=str(exc)[:200])
                continue
            out[record.name] = record
        return out

    def _write(self) -> None:
        if self.shared is not None:
            return  # the registry is the shared store
        data = {
            "version": FILE_VERSION,
            "services": {n: r.to_dict() for n, r in sorted(self.records.items())},
        }
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True))

    # ------------------------------------------------------------ lifecycle
    def load(self) -> None:
        """Add the persisted services to the pool (at gateway start; shared: ``run`` does)."""
        if self.shared is not None:
            return
        self.records = {n: r for n, r in self._read().items() if not r.expired(time.time())}
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
        ttl: float | None = None,
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
            ttl=ttl,
        )
        async with self._lock:
            spec = self.pool.specs.get(name)
            if spec is not None and spec.source != SOURCE:
                raise DuplicateServerError(
                    f"the name {name!r} belongs to a configured server; register the service under another name",
                    server=name,
                )
            created = name not in self.records
            if self.shared is not None:
                try:
                    await self.shared.put(name, record.to_dict(), ttl)
                except Exception as exc:
                    raise StoreUnavailableError(
                        f"cannot register {name!r}: the shared registry is unreachable ({type(exc).__name__})",
                        server=name,
                    ) from None
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
            if self.shared is not None:
                try:
                    known = await self.shared.all()
                    await self.shared.delete(name)
                except Exception as exc:
                    raise StoreUnavailableError(
                        f"cannot deregister {name!r}: the shared registry is unreachable ({type(exc).__name__})",
                        server=name,
                    ) from None
                if record is None and name in known:  # registered through another replica
                    record = _record(known[name])
            if record is None:
                raise UnknownServerError(f"no registered service {name!r}", server=name)
            self.records.pop(name, None)
            self._write()
            spec = self.pool.specs.get(name)
            if spec is not None and spec.source == SOURCE:
                await self.pool.remove(name)
        log.info("service_deregistered", service=name)
        return record

    # ------------------------------------------------------------ leases and the shared registry
    async def reconcile(self) -> None:
        """Bring the pool in line with the registry: the shared one, or this one's unexpired leases."""
        async with self._lock:
            gone: list[str] = []
            if self.shared is None:
                now = time.time()
                gone = [n for n, r in self.records.items() if r.expired(now)]
                wanted = {n: r for n, r in self.records.items() if n not in gone}
            else:
                wanted = {}
                for name, raw in (await self.shared.all()).items():
                    try:
                        wanted[name] = _record(raw)
                    except (TypeError, ValueError, AttributeError):
                        continue
            for name in [n for n in self.records if n not in wanted]:
                del self.records[name]
                spec = self.pool.specs.get(name)
                if spec is not None and spec.source == SOURCE:
                    await self.pool.remove(name)
                log.info(
                    "service_lease_ended" if self.shared is None else "service_left_registry", service=name
                )
            for name, record in wanted.items():
                current = self.records.get(name)
                if current is not None and current.to_dict() == record.to_dict():
                    continue
                spec = self.pool.specs.get(name)
                if spec is not None and spec.source != SOURCE:
                    continue  # a configured server has the name
                if spec is not None:
                    await self.pool.remove(name)
                self.records[name] = record
                self._add(record)
            if self.shared is None and gone:
                self._write()

    async def run(self) -> None:
        """Reconcile every ``reconcile_every`` seconds and, with shared state, on every change."""
        if self.shared is None:
            while True:
                await anyio.sleep(self.reconcile_every)
                if any(r.ttl is not None for r in self.records.values()):
                    await self.reconcile()
        while True:
            pubsub: Any = None
            try:
                pubsub = self.shared.state.redis.pubsub()
                await pubsub.subscribe(self.shared.channel)
                await self.reconcile()
                last = anyio.current_time()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None or anyio.current_time() - last > self.reconcile_every:
                        await self.reconcile()
                        last = anyio.current_time()
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:
                log.debug("services_registry_unreachable", error=type(exc).__name__)
                await anyio.sleep(1.0)
            finally:
                if pubsub is not None:
                    with anyio.CancelScope(shield=True):
                        try:
                            await pubsub.aclose()
                        except Exception:
                            pass

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
