"""The stdio transport over a running process (spawned by ``prespawn.spawn``): bounded, isolated.

Same wire behaviour as the SDK's ``stdio_client`` (one JSON-RPC message per line, parse
errors surfaced as values; on exit: close stdin, a grace period, then kill the process
group), with the bounds a gateway needs so that one noisy server never slows the others:

- lines are assembled from byte chunks in linear time (the SDK's ``buffer + chunk`` is
  quadratic: a 50 MB line cost every other server's calls ~60x for half a minute);
- a line longer than ``max_line_bytes`` is dropped while it streams (nothing is kept); if
  its first bytes name a request id, that request gets a JSON-RPC error at once instead
  of waiting for its deadline;
- large lines (>1 MB) are parsed on a worker thread, off the event loop;
- the server's stderr is pumped into its size-rotated log;
- the connection ends when the process exits, even if a child it left behind still holds
  its stdout open (a kill -9 was otherwise never noticed).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import anyio.abc
import mcp_types as types
from mcp.os.posix.utilities import terminate_posix_process_tree
from mcp.shared.message import SessionMessage

from ucp.downstream.prespawn import REAPER, Prespawned
from ucp.log import get_logger

log = get_logger("ucp.downstream.stdio")

GRACE_SECONDS = 2.0
DEFAULT_MAX_LINE = 16 * 1024 * 1024
_THREAD_PARSE = 1024 * 1024
_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,200}")')
INTERNAL_ERROR = -32603


class LineTooLong(ValueError):
    """A downstream line over the limit (surfaced as a transport fault, like a parse error)."""


def _parse(line: bytes) -> SessionMessage | Exception:
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as exc:
        return exc


def _too_long_reply(head: bytes, limit: int) -> SessionMessage | None:
    """An error response for the request an over-long line answered, if its id is in the first bytes."""
    if b'"result"' not in head and b'"error"' not in head and b'"method"' in head:
        return None  # a request or notification from the server, not a response
    match = _ID.search(head)
    if match is None:
        return None
    raw = match.group(1)
    msg_id: int | str = int(raw) if raw[:1] != b'"' else raw[1:-1].decode("utf-8", "replace")
    return SessionMessage(
        types.JSONRPCError(
            jsonrpc="2.0",
            id=msg_id,
            error=types.ErrorData(
                code=INTERNAL_ERROR,
                message=f"the server's response is larger than {limit} bytes ([pool] max_message_bytes)",
            ),
        )
    )


class LineReader:
    """Splits a byte stream into lines in linear time, dropping lines over ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._head = b""
        self.dropping = False

    def feed(self, chunk: bytes) -> list[bytes | LineTooLong]:
        out: list[bytes | LineTooLong] = []
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            piece = chunk[start:] if nl < 0 else chunk[start:nl]
            if self.dropping:
                pass
            elif self._size + len(piece) > self.limit:
                self._head = (b"".join(self._parts) + piece)[:512]
                self._parts, self._size, self.dropping = [], 0, True
            elif piece:
                self._parts.append(piece)
                self._size += len(piece)
            if nl < 0:
                return out
            if self.dropping:
                out.append(LineTooLong(self._head))
                self._head, self.dropping = b"", False
            elif self._size:
                out.append(b"".join(self._parts))
            self._parts, self._size = [], 0
            start = nl + 1


@asynccontextmanager
async def adopted_stdio(
    spawned: Prespawned, *, max_line_bytes: int = DEFAULT_MAX_LINE, server: str = ""
) -> AsyncIterator[tuple[Any, Any]]:
    process = spawned.process
    if process.stdin is None or process.stdout is None:
        raise ValueError("a pre-spawned process needs stdin and stdout pipes")
    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

    reading = anyio.CancelScope()

    async def exited() -> None:
        """The server's own children may hold its stdout open after it died: end on its exit."""
        await process.wait()
        await anyio.sleep(0.2)  # what it wrote before dying is still read
        reading.cancel()

    async def reader() -> None:
        assert process.stdout is not None
        lines = LineReader(max_line_bytes)
        async with read_send:
            with (
                reading,
                suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError),
            ):
                async for chunk in process.stdout:
                    for line in lines.feed(chunk):
                        if isinstance(line, LineTooLong):
                            log.warning("downstream_message_too_large", server=server, limit=max_line_bytes)
                            reply = _too_long_reply(line.args[0], max_line_bytes)
                            await read_send.send(reply if reply is not None else line)
                        elif not line.strip():
                            continue
                        elif len(line) > _THREAD_PARSE:
                            await read_send.send(await anyio.to_thread.run_sync(_parse, line))
                        else:
                            await read_send.send(_parse(line))

    async def writer() -> None:
        assert process.stdin is not None
        async with write_recv:
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                async for message in write_recv:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    # a lone surrogate cannot be UTF-8: replace it rather than kill the writer
                    await process.stdin.send(data.encode("utf-8", errors="replace"))

    async def stderr_pump() -> None:
        assert process.stderr is not None
        errlog = spawned.errlog
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError):
            async for chunk in process.stderr:
                if errlog is not None:
                    errlog.write(chunk.decode("utf-8", errors="replace"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(writer)
        tg.start_soon(exited)
        if process.stderr is not None:
            tg.start_soon(stderr_pump)
        try:
            yield read_recv, write_send
        finally:
            with anyio.CancelScope(shield=True):
                await write_send.aclose()
                await read_recv.aclose()
                with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await process.stdin.aclose()
                with anyio.move_on_after(GRACE_SECONDS):
                    await process.wait()
                if process.returncode is None:
                    with suppress(Exception):
                        await terminate_posix_process_tree(process, GRACE_SECONDS)
                REAPER.unregister(process.pid)
                with suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                    await process.stdout.aclose()
                with suppress(Exception):
                    await process.aclose()
                if spawned.errlog is not None:
                    spawned.errlog.close()
            tg.cancel_scope.cancel()


@asynccontextmanager
async def line_streams(
    stream: anyio.abc.ByteStream, *, max_line_bytes: int = DEFAULT_MAX_LINE, server: str = ""
) -> AsyncIterator[tuple[Any, Any]]:
    """MCP's stdio framing (one JSON-RPC message per line) over any byte stream, e.g. a unix
    socket between UCP's processes: the SDK session streams a client or a server runs on, with
    the same bounded line reader as a spawned server's stdout. Closes ``stream`` on exit."""
    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

    async def reader() -> None:
        lines = LineReader(max_line_bytes)
        async with read_send:
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError):
                async for chunk in stream:
                    for line in lines.feed(chunk):
                        if isinstance(line, LineTooLong):
                            log.warning("downstream_message_too_large", server=server, limit=max_line_bytes)
                            reply = _too_long_reply(line.args[0], max_line_bytes)
                            await read_send.send(reply if reply is not None else line)
                        elif line.strip():
                            await read_send.send(_parse(line))

    async def writer() -> None:
        async with write_recv:
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                async for message in write_recv:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await stream.send(data.encode("utf-8", errors="replace"))

    async with stream, anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(writer)
        try:
            yield read_recv, write_send
        finally:
            tg.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                await write_send.aclose()
                await read_recv.aclose()
