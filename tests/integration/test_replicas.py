"""Three real ``ucp serve --transport http`` replicas on one Redis (and PostgreSQL), behind a real
HAProxy (round-robin, no stickiness), driven by the MCP SDK's own client over streamable HTTP.

The cluster is started once for the module (in parallel; ``ucp.bench.cluster``) and reused;
the kill test runs last and restarts what it killed. ``X-Served-By`` (set by HAProxy) says which
replica answered each HTTP request, so "consecutive requests landed on different replicas" is
asserted, not assumed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import PY, SERVERS
from tests.integration.stores import PostgresServer, RedisServer
from ucp.bench.cluster import Cluster, cluster, replica_toml

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SERVERS_TOML = {
    "time": {"command": PY, "args": ["-m", "mcp_server_time"]},
    "toy": {"command": PY, "args": [str(SERVERS / "toy_server.py")]},
}


@pytest.fixture(scope="module")
def three(
    redis_server: RedisServer, postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    redis_server.flush()
    work = tmp_path_factory.mktemp("replicas")
    pg = postgres_server.create_database()
    toml = replica_toml(
        servers=SERVERS_TOML,
        redis_url=redis_server.url,
        postgres_url=pg,
        drain_s=5.0,
        extra={"exposure": {"client_modes": {"dyn-client": "dynamic"}}},
    )
    with cluster(work, 3, toml=toml, redis_url=redis_server.url, postgres_url=pg) as c:
        yield c


@dataclass
class Seen:
    """Which replica answered each request, and what the server sent unasked."""

    served_by: list[tuple[str, str]] = field(default_factory=list)  # (method, replica)
    notifications: list[Any] = field(default_factory=list)
    changed: anyio.Event = field(default_factory=anyio.Event)

    async def on_response(self, response: httpx2.Response) -> None:
        self.served_by.append((response.request.method, response.headers.get("x-served-by", "?")))

    async def on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.notifications.append(message)
            self.changed.set()

    def posts(self) -> set[str]:
        return {who for method, who in self.served_by if method == "POST"}

    def stream(self) -> str | None:
        gets = [who for method, who in self.served_by if method == "GET"]
        return gets[-1] if gets else None


@asynccontextmanager
async def session(url: str, name: str = "dyn-client") -> AsyncIterator[tuple[Client, Seen]]:
    seen = Seen()
    http = httpx2.AsyncClient(
        timeout=httpx2.Timeout(30, read=120), event_hooks={"response": [seen.on_response]}
    )
    async with (
        http,
        Client(
            streamable_http_client(url + "/mcp", http_client=http),
            mode="legacy",
            client_info=types.Implementation(name=name, version="1"),
            message_handler=seen.on_message,
            read_timeout_seconds=60,
        ) as client,
    ):
        yield client, seen


async def test_a_session_is_served_by_every_replica_in_turn(three: Cluster) -> None:
    async with session(three.url) as (client, seen):
        first = {t.name for t in (await client.list_tools()).tools}
        assert "ucp__search_tools" in first and "time__get_current_time" not in first  # dynamic mode
        found = await client.call_tool("ucp__search_tools", {"query": "current time in a timezone"})
        assert not found.is_error
        with anyio.fail_after(10):  # the working set grew: list_changed on whichever replica holds the stream
            await seen.changed.wait()
        listed = {t.name for t in (await client.list_tools()).tools}
        assert "time__get_current_time" in listed  # the working set, read on another replica
        result = await client.call_tool("time__get_current_time", {"timezone": "UTC"})
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["timezone"] == "UTC"
        for _ in range(3):
            assert "time__get_current_time" in {t.name for t in (await client.list_tools()).tools}
    assert len(seen.posts()) == 3, seen.served_by  # round-robin: every replica served this session


async def test_a_list_change_on_one_replica_reaches_a_stream_on_another(three: Cluster) -> None:
    async with session(three.url, name="full-client") as (client, seen):
        await client.list_tools()
        with anyio.fail_after(10):
            while seen.stream() is None:
                await anyio.sleep(0.05)
        holder = seen.stream()
        crossed = 0
        for i in range(6):
            seen.changed = anyio.Event()
            before = len(seen.served_by)
            result = await client.call_tool("toy__grow", {"name": f"grown_{i}_{int(time.time())}"})
            assert not result.is_error
            where = [w for m, w in seen.served_by[before:] if m == "POST"][-1]
            if where == holder:
                continue
            with anyio.fail_after(10):
                await seen.changed.wait()  # grown on `where`, heard on `holder`'s stream
            crossed += 1
            if crossed == 2:
                break
        assert crossed == 2, seen.served_by
