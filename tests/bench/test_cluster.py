"""The cluster's generated files: HAProxy round-robin on /readyz with a Host header, retries only
for requests no replica processed; a replica's registry with ${VAR} store URLs, never the URL itself."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ucp.bench.cluster import Replica, haproxy_cfg, replica_toml


def test_haproxy_routes_round_robin_on_readiness_and_retries_only_unprocessed_requests(
    tmp_path: Path,
) -> None:
    replicas = [Replica(f"r{i}", 9000 + i, tmp_path, {}) for i in range(3)]
    cfg = haproxy_cfg(8999, replicas)
    assert "balance roundrobin" in cfg and "bind 127.0.0.1:8999" in cfg
    assert (
        "uri /readyz" in cfg and "hdr Host 127.0.0.1" in cfg
    )  # UCP refuses requests without a loopback Host
    assert (
        "retry-on conn-failure 503" in cfg and "empty-response" not in cfg
    )  # never re-send a call in flight
    assert "cookie" not in cfg and "stick" not in cfg  # no stickiness
    assert [line.split()[1] for line in cfg.splitlines() if line.strip().startswith("server ")] == [
        "r0",
        "r1",
        "r2",
    ]


def test_replica_registry_names_the_store_by_variable() -> None:
    doc = tomllib.loads(
        replica_toml(
            servers={"echo": {"command": "python"}},
            redis_url="redis://:secret@127.0.0.1:6379/0",
            postgres_url="postgresql://u:secret@127.0.0.1/db",
            drain_s=3,
            extra={"exposure": {"mode": "search"}},
        )
    )
    assert doc["state"] == {
        "backend": "redis",
        "redis_url": "${UCP_REDIS_URL}",
        "postgres_url": "${UCP_PG_URL}",
        "timeout": 1.0,
    }
    assert doc["http"]["drain_s"] == 3 and doc["exposure"]["mode"] == "search" and doc["builtins"] is False
    embedded = tomllib.loads(replica_toml(servers={}, redis_url=None))
    assert "state" not in embedded
