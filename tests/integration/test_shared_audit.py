"""The audit log shared through PostgreSQL: every call's line reaches the table; while PostgreSQL is
down the lines wait in the replica's spool and arrive on recovery (none lost); ``ucp audit`` reads
the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import running_gateway, toy_server
from tests.integration.stores import PostgresServer
from ucp.identity import Identity

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def _calls(gw: Any, n: int) -> None:
    session = gw.new_session(identity=Identity("alice", via="key"), register=False)
    for _ in range(n):
        result = await gw.calls.call(session, "toy__echo", {"text": "x"})
        assert not result.is_error


async def test_audit_lines_survive_a_postgres_outage(
    tmp_path: Path, redis_url: str, postgres_url: str, postgres_server: PostgresServer
) -> None:
    settings: dict[str, Any] = {
        "state": {"backend": "redis", "redis_url": redis_url, "postgres_url": postgres_url, "timeout": 1}
    }
    async with running_gateway([toy_server()], tmp_path / "a", **settings) as a:
        assert a.audit.shipper is not None
        await _calls(a, 3)
        assert await anyio.to_thread.run_sync(a.audit.ship) == 3
        postgres_server.stop()
        try:
            await _calls(a, 4)  # calls keep working: the audit lines are in the spool
            assert await anyio.to_thread.run_sync(a.audit.ship) == 0
            assert a.audit.shipper.backlog() > 0
            assert a.audit.shipper.failing
        finally:
            postgres_server.start()
        assert await anyio.to_thread.run_sync(a.audit.ship) == 4
        assert a.audit.shipper.backlog() == 0
        rows = await anyio.to_thread.run_sync(lambda: a.audit.shipper.read())  # type: ignore[union-attr]
    calls = [r for r in rows if r["event"] == "call"]
    assert len(calls) == 7
    assert len({r["id"] for r in calls}) == 7  # each once, though shipped across an outage
    assert all(r["identity"] == "alice" and r["replica"] for r in calls)
    # `ucp audit` reads the shared table
    home = tmp_path / "cli"
    home.mkdir()
    (home / "ucp.toml").write_text(
        f'[state]\nbackend = "redis"\nredis_url = "{redis_url}"\npostgres_url = "{postgres_url}"\n'
    )
    env = {**os.environ, "UCP_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("UCP_CONFIG", None)
    out = subprocess.run(
        [sys.executable, "-m", "ucp", "audit", "--event", "call", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert len([json.loads(line) for line in out.stdout.splitlines()]) == 7
