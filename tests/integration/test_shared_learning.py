"""Learning across replicas on a real Redis and PostgreSQL: what gateway A learns, gateway B ranks
with (within a second); concurrent writers lose no increment; ``reset`` clears every replica."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import client_for, running_gateway, time_server, toy_server, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

QUERY = "time"
TARGET = "time__convert_time"  # BM25 ranks it second for this query: learning must lift it
ARGS = {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Europe/Paris"}


def _state(redis_url: str, postgres_url: str, **kw: Any) -> dict[str, Any]:
    return {
        "exposure": {"mode": "search"},
        "learning": {"exploration": False},
        "state": {"backend": "redis", "redis_url": redis_url, "postgres_url": postgres_url, **kw},
    }


async def _ranked(client: Any) -> list[str]:
    found = await client.call_tool("ucp__search_tools", {"query": QUERY, "limit": 5})
    return [r["name"] for r in found.structured_content["results"]]


async def test_a_success_on_replica_a_changes_the_ranking_on_replica_b(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    settings = _state(redis_url, postgres_url)
    servers = [toy_server(), time_server()]
    async with (
        running_gateway(servers, tmp_path / "a", **settings) as a,
        running_gateway(servers, tmp_path / "b", **settings) as b,
    ):
        await wait_until(lambda: a.learner_sync is not None and b.learner_sync is not None, what="sync")
        assert a.learner_sync is not None and b.learner_sync is not None
        with anyio.fail_after(10):
            await a.learner_sync.loaded.wait()
            await b.learner_sync.loaded.wait()
        async with client_for(a) as ca, client_for(b) as cb:
            before = await _ranked(cb)
            assert TARGET in before and before[0] != TARGET, before
            lags = []
            for i in range(6):
                assert TARGET in await _ranked(ca)
                result = await ca.call_tool("ucp__call_tool", {"name": TARGET, "arguments": ARGS})
                assert not result.is_error
                started = time.perf_counter()

                def seen(n: int = i + 1) -> bool:
                    return (
                        b.learner is not None
                        and TARGET in b.learner.tools
                        and b.learner.tools[TARGET].succeeded >= n
                    )

                await wait_until(
                    seen,
                    timeout=5,
                    what="B sees A's success",
                )
                lags.append(time.perf_counter() - started)
            print(
                f"\nA->B propagation (flush_interval 0.2 s): max {max(lags) * 1000:.0f} ms, "
                f"mean {sum(lags) / len(lags) * 1000:.0f} ms"
            )
            assert max(lags) < 1.0
            after = await _ranked(cb)
            assert after.index(TARGET) < before.index(TARGET), (before, after)
        assert b.learner is not None and a.learner is not None
        assert b.learner.tools[TARGET].posterior.alpha == a.learner.tools[TARGET].posterior.alpha
    # the events of both replicas are in PostgreSQL, and a new replica starts from the shared state
    from ucp.state.feedback import PgFeedbackStore

    events = PgFeedbackStore(postgres_url)
    try:
        assert events.count_events() == 8  # 6 rankings shown on A, 2 on B
        assert sum(d["hits"] for d in events.daily()) >= 6
    finally:
        events.close()
    async with running_gateway(servers, tmp_path / "c", **settings) as c:
        await wait_until(lambda: c.learner_sync is not None and c.learner_sync.loaded.is_set(), what="load")
        assert c.learner is not None and c.learner.tools[TARGET].succeeded == 6


WRITER = textwrap.dedent(
    """
    import anyio, sys
    from ucp.config.models import StateSettings
    from ucp.state import open_state
    from ucp.state.learning import LearningJournal, SharedLearning, UsageOp
    import numpy as np

    VEC = (np.ones(8, dtype=np.float32) / np.sqrt(8)).astype(np.float32).tobytes()

    async def main(url):
        state = open_state(StateSettings(backend="redis", redis_url=url))
        shared = SharedLearning(state, decay=1.0)

        async def task():
            for _ in range(200):
                j = LearningJournal()
                j.bump("t__x", alpha=1.0, beta=0.5, shown=1)
                j.add_usage(UsageOp("t__x", "add", 1.0, VEC))
                await shared.push(j)

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(task)
        await state.aclose()

    anyio.run(main, sys.argv[1])
    """
)


async def test_concurrent_writers_lose_no_increment(redis_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, redis_url], env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    from ucp.config.models import StateSettings
    from ucp.state import open_state
    from ucp.state.learning import SharedLearning

    state = open_state(StateSettings(backend="redis", redis_url=redis_url))
    try:
        tools = await SharedLearning(state).read_all()
        x = tools["t__x"]
        assert x.counts["alpha"] == 3200.0  # 2 processes x 8 tasks x 200
        assert x.counts["beta"] == 1600.0
        assert x.counts["shown"] == 3200
        assert x.usage_count == 3200.0
    finally:
        await state.aclose()


def _ucp(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "UCP_HOME": str(home),
        "COLUMNS": "200",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.pop("UCP_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "ucp", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_stats_reset_and_compaction_work_on_the_shared_stores(
    tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "ucp.toml").write_text(
        f'[state]\nbackend = "redis"\nredis_url = "${{T_REDIS}}"\npostgres_url = "{postgres_url}"\n'
    )
    os.environ["T_REDIS"] = redis_url  # a ${VAR} reference, as in production
    settings = _state(redis_url, postgres_url)
    try:
        async with running_gateway([toy_server(), time_server()], tmp_path / "a", **settings) as a:
            await wait_until(
                lambda: a.learner_sync is not None and a.learner_sync.loaded.is_set(), what="load"
            )
            async with client_for(a) as ca:
                for _ in range(2):
                    await _ranked(ca)
                    await ca.call_tool("ucp__call_tool", {"name": TARGET, "arguments": ARGS})
            assert a.learner_sync is not None
            with anyio.fail_after(5):
                while len(a.learner.journal) if a.learner else 0:
                    await anyio.sleep(0.05)
            await anyio.to_thread.run_sync(a.learner.save)  # type: ignore[union-attr]
            shown = await anyio.to_thread.run_sync(lambda: _ucp(home, "stats", "--json"))
            assert shown.returncode == 0, shown.stderr
            import json

            data = json.loads(shown.stdout)
            rows = {r["tool"]: r for r in data["tools"]}
            assert rows[TARGET]["succeeded"] == 2
            assert data["events"] == 2
            assert redis_url not in shown.stdout + shown.stderr
            cleared = await anyio.to_thread.run_sync(lambda: _ucp(home, "stats", "--reset", "--yes"))
            assert cleared.returncode == 0, cleared.stderr
            assert "running replicas forget it too" in cleared.stdout
            # the running replica heard the reset on the change channel
            await wait_until(
                lambda: a.learner is not None and TARGET not in a.learner.tools, timeout=5, what="forget"
            )
        after = json.loads((await anyio.to_thread.run_sync(lambda: _ucp(home, "stats", "--json"))).stdout)
        # only what the replica's shutdown added since (its open ranking's negatives) remains
        assert all(r["succeeded"] == 0 and r["called"] == 0 for r in after["tools"]), after
        assert after["events"] == 0
    finally:
        os.environ.pop("T_REDIS", None)
    # compaction: retention and max_events, from any replica
    from ucp.state.feedback import PgFeedbackStore

    store = PgFeedbackStore(postgres_url, retention_days=1, max_events=3)
    try:
        now = time.time()
        for i in range(6):
            store.add_ranking(
                f"r{i}", ts=now - i * 60, session="s", source="search", query="q", shown=[], mode="m"
            )
            store.add_outcome(f"r{i}", ts=now, tool="t", rank=1, ok=True, error=None, first_hit=True)
        store.add_ranking(
            "old", ts=now - 3 * 86400, session="s", source="search", query="q", shown=[], mode="m"
        )
        assert store.compact(now) == 4  # the old one, then the oldest beyond 3
        assert store.count_events() == 3
        assert int(store._rows("SELECT COUNT(*) FROM outcomes")[0][0]) == 3
    finally:
        store.close()


async def test_a_named_tenants_learning_is_shared_across_replicas_under_its_own_keys(
    tmp_path: Path, redis_url: str
) -> None:
    from tests.fakes import FakeTransport, tool
    from tests.session.test_guard import ACME, CONFIG
    from ucp.app import Gateway
    from ucp.config.models import StateSettings
    from ucp.config.paths import Paths
    from ucp.pool.pool import ServerSpec

    config = CONFIG.model_copy(update={"state": StateSettings(backend="redis", redis_url=redis_url)})

    async def replica(home: Path) -> Any:
        gateway = Gateway(config, Paths(home).ensure(), dense=False)
        await gateway.__aenter__()
        gateway.pool.add(
            ServerSpec("acme_notes", FakeTransport("acme_notes", [tool("add_note", "Add a note", text="s")]))
        )
        await gateway.wait_ready(5)
        await gateway.router.wait_synced()
        return gateway

    a, b = await replica(tmp_path / "a"), await replica(tmp_path / "b")
    try:
        session = a.api.open(transport="rest", identity=ACME)
        await a.api.search(session, "add a note", limit=5)
        await a.api.call(session, "acme_notes__add_note", {"text": "hi"})
        await wait_until(lambda: "acme" in a.tenant_syncs, what="acme's sync")
        # B opens acme's learner on its first acme search, and reads what A pushed
        other = b.api.open(transport="rest", identity=ACME)
        await b.api.search(other, "add a note", limit=5)

        def seen() -> bool:
            learner = b.router.tenant_learners.get("acme")
            st = learner.tools.get("acme_notes__add_note") if learner else None
            return st is not None and st.succeeded == 1

        await wait_until(seen, timeout=5, what="B sees acme's success")
        from ucp.state.learning import SharedLearning

        default = await SharedLearning(a.state).read_all()
        assert "acme_notes__add_note" not in default  # the default tenant's keys are untouched
    finally:
        for gw in (b, a):
            await gw.__aexit__(None, None, None)
