"""One handle on the configured state stores: their clients, key namespace and health.

Embedded (the default) has no clients: every part keeps its state in this process and under
``UCP_HOME``. Shared holds a ``redis.asyncio`` client (hot state) and, when ``postgres_url`` is set, a
small ``psycopg_pool`` pool (durable records). Both clients are imported only here and only for the
shared backend, so a single-user install never loads them. URLs are expanded from ``${VAR}`` when the
state is opened; the expanded values are registered as secrets (masked in logs) and never appear in an
error or a health report.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ucp.config.models import POSTGRES_URL_RE, REDIS_URL_RE, StateSettings
from ucp.errors import ConfigError, StoreUnavailableError
from ucp.log import get_logger, register_secret

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool
    from redis.asyncio import Redis

log = get_logger("ucp.state")


@dataclass(frozen=True)
class StoreHealth:
    """What ``State.ping`` found: ``ok`` when every configured store answered within the timeout."""

    ok: bool
    backend: str
    stores: dict[str, str] = field(default_factory=dict)  # store -> "ok" | the failure's class name
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "backend": self.backend,
            "stores": dict(self.stores),
            "latency_ms": round(self.latency_ms, 2),
        }


def _expand(value: str, env: Mapping[str, str] | None, name: str) -> str:
    from ucp.config.loader import expand_env

    expanded = expand_env(value, env, where=f"state.{name}")
    register_secret(expanded)  # a URL may carry a password: mask it wherever it would be logged
    return expanded


class State:
    """The configured stores. ``shared`` is False for the embedded backend (no clients at all)."""

    def __init__(self, settings: StateSettings, env: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.backend: Literal["embedded", "redis"] = settings.backend
        self.namespace = settings.namespace
        self.redis_url: str | None = None
        self.postgres_url: str | None = None
        if settings.backend == "redis":
            assert settings.redis_url is not None  # the settings' validator
            self.redis_url = _expand(settings.redis_url, env, "redis_url")
            if not REDIS_URL_RE.match(self.redis_url):
                raise ConfigError(
                    "not a Redis URL once expanded (expected redis://, rediss:// or unix://; not shown)",
                    field="state.redis_url",
                )
            if settings.postgres_url:
                self.postgres_url = _expand(settings.postgres_url, env, "postgres_url")
                if not POSTGRES_URL_RE.match(self.postgres_url):
                    raise ConfigError(
                        "not a PostgreSQL URL once expanded (expected postgresql://; not shown)",
                        field="state.postgres_url",
                    )
        self._redis: Redis | None = None
        self._pg: AsyncConnectionPool[AsyncConnection[Any]] | None = None
        self._pg_lock = anyio.Lock()

    @property
    def shared(self) -> bool:
        return self.backend != "embedded"

    def key(self, *parts: str) -> str:
        """A Redis key (or channel) in this deployment's namespace: ``ns:part:part``."""
        return ":".join((self.namespace, *parts))

    @property
    def redis(self) -> Redis:
        """The shared ``redis.asyncio`` client (created at first use; it reconnects by itself)."""
        if self.redis_url is None:
            raise RuntimeError("the embedded state backend has no Redis client")
        if self._redis is None:
            from redis.asyncio import Redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry

            self._redis = Redis.from_url(
                self.redis_url,
                socket_timeout=self.settings.timeout,
                socket_connect_timeout=self.settings.timeout,
                health_check_interval=10,
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=1),
                decode_responses=False,
            )
        return self._redis

    async def postgres(self) -> AsyncConnectionPool[AsyncConnection[Any]] | None:
        """The PostgreSQL pool (opened at first use), or None when no ``postgres_url`` is set."""
        if self.postgres_url is None:
            return None
        async with self._pg_lock:
            if self._pg is None:
                from psycopg_pool import AsyncConnectionPool

                pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
                    self.postgres_url,
                    min_size=1,
                    max_size=4,
                    open=False,
                    timeout=self.settings.timeout,
                    kwargs={"connect_timeout": max(1, int(self.settings.timeout))},
                )
                await pool.open(wait=False)
                self._pg = pool
        return self._pg

    def pg_schema(self) -> str:
        """The PostgreSQL schema this deployment's tables live in (its namespace)."""
        return self.namespace

    async def ping(self) -> StoreHealth:
        """Whether every configured store answers within ``timeout``; never raises (for /readyz)."""
        started = time.perf_counter()
        if not self.shared:
            return StoreHealth(True, self.backend, {"embedded": "ok"})
        stores: dict[str, str] = {}
        try:
            with anyio.fail_after(self.settings.timeout):
                await self.redis.ping()
            stores["redis"] = "ok"
        except Exception as exc:  # the health report names the failure, never the URL
            stores["redis"] = type(exc).__name__
        if self.postgres_url is not None:
            try:
                with anyio.fail_after(self.settings.timeout):
                    pool = await self.postgres()
                    assert pool is not None
                    async with pool.connection() as conn:
                        await conn.execute("SELECT 1")
                stores["postgres"] = "ok"
            except Exception as exc:
                stores["postgres"] = type(exc).__name__
        ok = all(v == "ok" for v in stores.values())
        return StoreHealth(ok, self.backend, stores, (time.perf_counter() - started) * 1000)

    async def require(self) -> None:
        """Raise ``StoreUnavailableError`` unless every configured store answers."""
        health = await self.ping()
        if not health.ok:
            failed = ", ".join(f"{k}: {v}" for k, v in health.stores.items() if v != "ok")
            raise StoreUnavailableError(f"shared state store unreachable ({failed})", stores=health.stores)

    async def aclose(self) -> None:
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()
        pg, self._pg = self._pg, None
        if pg is not None:
            await pg.close()


def open_state(settings: StateSettings, env: Mapping[str, str] | None = None) -> State:
    """The state handle ``[state]`` describes (no connection is made until a store is used)."""
    return State(settings, env)
