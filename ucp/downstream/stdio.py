"""A stdio transport over a process that is already running (see ``prespawn.py``).

Same wire behaviour as the SDK's ``stdio_client``: one JSON-RPC message per line,
parse errors surfaced as values, and on exit: close stdin, give the server a grace
period, then kill its process group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.text import TextReceiveStream
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

from ucp.downstream.prespawn import Prespawned

GRACE_SECONDS = 2.0


def _parse(line: str) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        return exc


@asynccontextmanager
async def adopted_stdio(spawned: Prespawned) -> AsyncIterator[tuple[Any, Any]]:
    process = spawned.process
    if process.stdin is None or process.stdout is None:
        raise ValueError("a pre-spawned process needs stdin and stdout pipes")
    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

    async def reader() -> None:
        assert process.stdout is not None
        buffer = ""
        async with read_send:
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError):
                async for chunk in TextReceiveStream(process.stdout):
                    lines = (buffer + chunk).split("\n")
                    buffer = lines.pop()
                    for line in lines:
                        if line.strip():
                            await read_send.send(_parse(line))

    async def writer() -> None:
        assert process.stdin is not None
        async with write_recv:
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                async for message in write_recv:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await process.stdin.send(data.encode())

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(writer)
        try:
            yield read_recv, write_send
        finally:
            with anyio.CancelScope(shield=True):
                await write_send.aclose()
                with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await process.stdin.aclose()
                with anyio.move_on_after(GRACE_SECONDS):
                    await process.wait()
                if process.returncode is None:
                    with suppress(Exception):
                        await terminate_posix_process_tree(process, GRACE_SECONDS)
                with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await process.stdout.aclose()
                with suppress(Exception):
                    await process.aclose()
                if spawned.errlog is not None:
                    spawned.errlog.close()
            tg.cancel_scope.cancel()
