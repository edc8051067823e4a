"""Fixtures of the integration tier: the real Redis and PostgreSQL servers (tests/integration/stores.py)."""

from tests.integration.stores import postgres_server, postgres_url, redis_server, redis_url

__all__ = ["postgres_server", "postgres_url", "redis_server", "redis_url"]
