"""CatalogSync: pool changes update the catalog and directory at once; clients hear one
debounced change per burst, and resource updates with the URI clients know."""

from __future__ import annotations

from pathlib import Path

import anyio
import mcp_types as types
import pytest

from tests.fakes import FakeTransport, tool
from tests.helpers import wait_until
from ucp.config.models import PoolSettings
from ucp.events import Change, ChangeBus, ChangeKind
from ucp.pool.directory import Directory
from ucp.pool.pool import Pool, ServerSpec
from ucp.router.catalog import Catalog
from ucp.router.pins import PinStore
from ucp.session.sync import EVERYONE, CatalogSync

pytestmark = pytest.mark.anyio

FAST = PoolSettings(backoff_initial=0.01, backoff_max=0.05, health_interval=0.05, acquire_timeout=0.2)


def _resource(uri: str) -> types.Resource:
    return types.Resource(uri=uri, name=uri.rsplit("/", 1)[-1])


async def test_pool_changes_reach_catalog_directory_and_clients(tmp_path: Path) -> None:
    client = ChangeBus()
    catalog, directory = Catalog(), Directory()
    async with Pool(FAST) as pool, anyio.create_task_group() as tg:
        sync = CatalogSync(
            pool, catalog, directory, PinStore(tmp_path / "pins.json"), servers=dict, client_events=client
        )
        tg.start_soon(sync.run)
        async with client.stream() as heard:
            a, b = FakeTransport(tools=[tool("one")]), FakeTransport(tools=[tool("two")])
            b.resources = [_resource("file:///shared"), _resource("file:///b-only")]
            a.resources = [_resource("file:///shared")]
            pool.add(ServerSpec("a", a))
            await pool.wait_initial(5)
            pool.add(ServerSpec("b", b))
            await pool.wait_initial(5)
            assert set(catalog.entries) == {"a__one", "b__two"}  # current at once, no waiting
            first = await heard.receive()
            assert first.server == EVERYONE and ChangeKind.TOOLS in first.kinds
            # b's "file:///shared" collided with a's: clients know it under a ucp:// URI
            exposed = directory.exposed_uri("b", "file:///shared")
            assert exposed.startswith("ucp://b/")
            assert b.events is not None
            b.events.resource_updated("file:///shared")
            with anyio.fail_after(5):
                while True:
                    change = await heard.receive()
                    if change.uri is not None:
                        break
            assert change == Change.of("b", ChangeKind.RESOURCE_UPDATED, uri=exposed)
            await pool.remove("a")
            await wait_until(lambda: "a__one" not in catalog.entries, timeout=5)
        sync.close()
        tg.cancel_scope.cancel()


async def test_a_burst_of_changes_is_one_client_change(tmp_path: Path) -> None:
    client = ChangeBus()
    catalog = Catalog()
    async with Pool(FAST) as pool, anyio.create_task_group() as tg:
        sync = CatalogSync(
            pool, catalog, Directory(), PinStore(tmp_path / "pins.json"), servers=dict, client_events=client
        )
        async with client.stream() as heard:
            for i in range(5):
                pool.add(ServerSpec(f"s{i}", FakeTransport(tools=[tool(f"t{i}")])))
            await pool.wait_initial(5)
            tg.start_soon(sync.run)  # five servers' changes are pending: one notification
            first = await heard.receive()
            assert ChangeKind.TOOLS in first.kinds
            with anyio.move_on_after(0.3) as quiet:
                await heard.receive()
            assert quiet.cancelled_caught
        sync.tools_changed()  # a registry reload says so too
        async with client.stream() as heard:
            with anyio.fail_after(5):
                assert ChangeKind.TOOLS in (await heard.receive()).kinds
        tg.cancel_scope.cancel()
