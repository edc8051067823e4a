"""The state handle against real Redis and PostgreSQL: health, namespacing, an outage seen and recovered."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.stores import RedisServer
from ucp.config.models import StateSettings
from ucp.state import open_state

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_ping_reports_each_store_and_recovers_after_a_redis_restart(
    redis_url: str, postgres_url: str, redis_server: RedisServer
) -> None:
    state = open_state(
        StateSettings(backend="redis", redis_url=redis_url, postgres_url=postgres_url, timeout=1)
    )
    try:
        health = await state.ping()
        assert health.ok, health
        assert health.stores == {"redis": "ok", "postgres": "ok"}
        redis_server.stop()
        down = await state.ping()
        assert not down.ok
        assert down.stores["redis"] != "ok"
        assert down.stores["postgres"] == "ok"
        assert redis_url not in str(down.to_dict())
        redis_server.start()
        assert (await state.ping()).ok
    finally:
        await state.aclose()


async def test_embedded_needs_no_store() -> None:
    state = open_state(StateSettings())
    assert not state.shared
    assert (await state.ping()).ok


async def test_ucp_serve_on_a_password_protected_redis_never_logs_the_password(
    tmp_path: Path, postgres_url: str
) -> None:
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    import anyio
    import httpx2

    from tests.helpers import SERVERS, wait_port
    from tests.integration.stores import free_port

    password = "s3cret-redis-pw-" + os.urandom(4).hex()
    redis = RedisServer(
        free_port(), Path(tempfile.mkdtemp(prefix="ucp-redis-pw-")), extra=("--requirepass", password)
    )
    redis.start()
    home = tmp_path / "home"
    home.mkdir()
    (home / "ucp.toml").write_text(
        f'builtins = false\n\n[servers.toy]\ncommand = "{sys.executable}"\nargs = ["{SERVERS / "toy_server.py"}"]\n\n'
        f'[state]\nbackend = "redis"\nredis_url = "${{UCP_TEST_REDIS}}"\npostgres_url = "{postgres_url}"\n'
    )
    port = free_port()
    env = {
        **os.environ,
        "UCP_HOME": str(home),
        "UCP_TEST_REDIS": f"redis://:{password}@127.0.0.1:{redis.port}/0",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.pop("UCP_CONFIG", None)
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ucp", "serve", "--transport", "http", "--port", str(port), "--no-dense"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port, 60, proc)
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200
            with anyio.fail_after(30):
                while True:  # a REST search records a ranking: its statistics reach Redis
                    found = (await http.get("/api/v1/tools/search", params={"query": "echo text"})).json()
                    state = open_state(StateSettings(backend="redis", redis_url=env["UCP_TEST_REDIS"]))
                    try:
                        keys = await state.redis.keys("ucp:learn:t:*")
                    finally:
                        await state.aclose()
                    if keys:
                        break
                    await anyio.sleep(0.3)
        assert found["results"]
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
        redis.stop()
        shutil.rmtree(redis.dir, ignore_errors=True)
    output = (tmp_path / "serve.log").read_text()
    logs = "".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    assert len(output.splitlines()) + len(logs.splitlines()) > 3  # there were log lines to leak into
    assert password not in output and password not in logs
