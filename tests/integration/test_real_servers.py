"""UCP in front of real third-party MCP servers: mcp-server-time and mcp-server-git (PyPI),
@modelcontextprotocol/server-everything (npm) over stdio, streamable HTTP and SSE, read by the
real MCP SDK client in legacy and auto mode."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext

from tests.helpers import (
    background,
    client_for,
    free_port,
    node_bin,
    running_gateway,
    subscribe,
    time_server,
    venv_bin,
)
from ucp.config.models import HttpServer, SseServer, StdioServer

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    (repo / "README.md").write_text("hello\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "first"], check=True, env=env)
    (repo / "new.txt").write_text("untracked\n")
    return repo


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_time_server_through_ucp(tmp_path: Path, mode: str) -> None:
    async with running_gateway([time_server()], tmp_path) as gw, client_for(gw, mode=mode) as client:
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"time__get_current_time", "time__convert_time"} <= names
        result = await client.call_tool("time__get_current_time", {"timezone": "Asia/Tokyo"})
        assert not result.is_error
        assert result.structured_content is not None
        assert result.structured_content["timezone"] == "Asia/Tokyo"
        assert result.structured_content["datetime"].endswith("+09:00")


async def test_git_server_through_ucp(tmp_path: Path, git_repo: Path) -> None:
    git = StdioServer(name="git", command=venv_bin("mcp-server-git"), args=("-r", str(git_repo)))
    async with running_gateway([git], tmp_path) as gw, client_for(gw) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"git__git_status", "git__git_log", "git__git_diff_unstaged"} <= names
        status = await client.call_tool("git__git_status", {"repo_path": str(git_repo)})
        assert not status.is_error
        assert "new.txt" in status.content[0].text
        log = await client.call_tool("git__git_log", {"repo_path": str(git_repo)})
        assert "first" in log.content[0].text


def _everything_cmd(transport: str) -> list[str]:
    return [node_bin("mcp-server-everything"), transport]


@pytest.fixture
def everything_http() -> Iterator[str]:
    port = free_port()
    with background(_everything_cmd("streamableHttp"), port=port, env={**os.environ, "PORT": str(port)}):
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.fixture
def everything_sse() -> Iterator[str]:
    port = free_port()
    with background(_everything_cmd("sse"), port=port, env={**os.environ, "PORT": str(port)}):
        yield f"http://127.0.0.1:{port}/sse"


async def _check_everything(client: object, prefix: str) -> None:
    from mcp import Client

    assert isinstance(client, Client)
    names = {t.name for t in (await client.list_tools()).tools}
    assert f"{prefix}__echo" in names
    assert f"{prefix}__get-sum" in names
    echoed = await client.call_tool(f"{prefix}__echo", {"message": "through ucp"})
    assert not echoed.is_error
    assert "through ucp" in echoed.content[0].text
    summed = await client.call_tool(f"{prefix}__get-sum", {"a": 2, "b": 3})
    assert "5" in summed.content[0].text


async def test_everything_over_stdio(tmp_path: Path) -> None:
    server = StdioServer(name="every", command=node_bin("mcp-server-everything"), args=("stdio",))
    async with running_gateway([server], tmp_path) as gw, client_for(gw) as client:
        await _check_everything(client, "every")
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert any(p.startswith("every__") for p in prompts)
        resources = (await client.list_resources()).resources
        assert resources, "server-everything publishes resources"
        read = await client.read_resource(str(resources[0].uri))
        assert read.contents


async def test_everything_over_streamable_http(tmp_path: Path, everything_http: str) -> None:
    server = HttpServer(name="every", url=everything_http)
    async with running_gateway([server], tmp_path) as gw, client_for(gw) as client:
        await _check_everything(client, "every")


async def test_everything_over_sse(tmp_path: Path, everything_sse: str) -> None:
    server = SseServer(name="every", url=everything_sse)
    async with running_gateway([server], tmp_path) as gw, client_for(gw) as client:
        await _check_everything(client, "every")


async def test_everything_list_changed_reaches_ucp_client(tmp_path: Path) -> None:
    """UCP declares elicitation downstream, so server-everything registers its elicitation tool
    after initialisation and sends tools/list_changed; UCP must refresh and tell its own client."""
    changed = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changed.set()

    server = StdioServer(name="every", command=node_bin("mcp-server-everything"), args=("stdio",))
    async with (
        running_gateway([server], tmp_path, wait=False) as gw,
        client_for(gw, message_handler=on_message) as client,
    ):
        await client.list_tools()
        with anyio.fail_after(20):
            await changed.wait()
        names = {t.name for t in (await client.list_tools()).tools}
        assert "every__trigger-elicitation-request" in names
        assert gw.pool.connections["every"].healthy


async def test_elicitation_is_forwarded_to_the_upstream_user(tmp_path: Path) -> None:
    asked: list[str] = []

    async def on_elicit(
        context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="decline")

    server = StdioServer(name="every", command=node_bin("mcp-server-everything"), args=("stdio",))
    async with (
        running_gateway([server], tmp_path) as gw,
        client_for(gw, elicitation_callback=on_elicit) as client,
    ):
        with anyio.fail_after(20):
            while "every__trigger-elicitation-request" not in {
                t.name for t in (await client.list_tools()).tools
            }:
                await anyio.sleep(0.1)
        result = await client.call_tool("every__trigger-elicitation-request", {})
        assert asked, "the downstream's elicitation request reached the upstream client"
        assert "decline" in result.content[0].text.lower()


async def test_resource_updates_reach_a_subscribed_client(tmp_path: Path) -> None:
    """resources/subscribe goes through UCP to server-everything; its notifications/resources/updated
    come back to the subscribed upstream client (and not to an unsubscribed one)."""
    updated: list[str] = []
    other: list[str] = []
    got = anyio.Event()

    async def on_message(message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            got.set()

    async def on_other(message: object) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            other.append(str(message.params.uri))

    server = StdioServer(name="every", command=node_bin("mcp-server-everything"), args=("stdio",))
    async with (
        running_gateway([server], tmp_path) as gw,
        client_for(gw, message_handler=on_message) as client,
        client_for(gw, message_handler=on_other) as bystander,
    ):
        await bystander.list_tools()
        resources = (await client.list_resources()).resources
        uri = str(resources[0].uri)
        await subscribe(client, uri)
        assert gw.pool.connections["every"].subscriptions == {uri}
        with anyio.fail_after(30):
            while "every__toggle-subscriber-updates" not in {
                t.name for t in (await client.list_tools()).tools
            }:
                await anyio.sleep(0.2)
        toggled = await client.call_tool("every__toggle-subscriber-updates", {})
        assert not toggled.is_error
        with anyio.fail_after(20):
            await got.wait()
        assert uri in updated
        assert other == []
        await subscribe(client, unsubscribe=True, uri=uri)
        assert gw.pool.connections["every"].subscriptions == set()
