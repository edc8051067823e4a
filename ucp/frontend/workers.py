"""One HTTP worker of ``ucp serve --workers N``: its sockets, its session ids, and session affinity.

N worker processes serve the same port (``SO_REUSEPORT``: the kernel spreads connections over
them by address hash), so calls use every core. MCP over HTTP is stateful: a session lives in
the worker that opened it. Each worker therefore mints session ids that start with its index
(one hex digit), and a request that lands on another worker (a client's second connection of
the same session, e.g. its GET stream) is passed to the owner over the owner's private unix
socket (``SessionAffinity``, streamed both ways). Clients see one endpoint.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ucp.log import get_logger

log = get_logger("ucp.frontend.workers")

SESSION_HEADER = b"mcp-session-id"
_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"te", b"trailer"}


def worker_socket(directory: Path, index: int) -> Path:
    """Where worker ``index`` also listens (for requests of its sessions that reach a sibling)."""
    return directory / f"worker-{index}.sock"


def owner_of(session_id: str) -> int | None:
    """The worker index a session id names (its first hex digit), ``None`` if it names none."""
    try:
        return int(session_id[:1], 16)
    except ValueError:
        return None


class _PrefixedId:
    def __init__(self, index: int) -> None:
        self.hex = f"{index:x}{uuid.uuid4().hex[1:]}"


def prefix_session_ids(index: int) -> None:
    """Make the SDK's HTTP session manager mint ids that start with this worker's index. The SDK
    takes its ids from ``uuid4().hex`` in that module; this is the one place UCP reaches into it."""
    from mcp.server import streamable_http_manager

    setattr(streamable_http_manager, "uuid4", lambda: _PrefixedId(index))  # noqa: B010


def listening_sockets(host: str, port: int, directory: Path, index: int) -> list[socket.socket]:
    """The shared TCP port (``SO_REUSEPORT``) and this worker's private unix socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so (else Nagle and
    # delayed ACKs add ~40 ms to every response)
    tcp = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    tcp.bind((host, port))
    tcp.listen(2048)
    path = worker_socket(directory, index)
    path.unlink(missing_ok=True)
    uds = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    uds.bind(str(path))
    path.chmod(0o600)
    uds.listen(2048)
    for s in (tcp, uds):
        s.set_inheritable(True)
    return [tcp, uds]


class SessionAffinity:
    """ASGI middleware: a request for a session another worker owns is forwarded to it."""

    def __init__(self, app: ASGIApp, *, index: int, directory: Path) -> None:
        self.app = app
        self.index = index
        self.directory = directory
        self._clients: dict[int, Any] = {}

    @property
    def state(self) -> Any:
        """The wrapped app's state (``run.http_server`` reads its lifecycle there)."""
        return getattr(self.app, "state", None)

    def _owner(self, scope: Scope) -> int | None:
        if scope["type"] != "http":
            return None
        for key, value in scope.get("headers", ()):
            if key == SESSION_HEADER:
                owner = owner_of(value.decode("latin-1"))
                return owner if owner is not None and owner != self.index else None
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        owner = self._owner(scope)
        if owner is None or not worker_socket(self.directory, owner).exists():
            await self.app(scope, receive, send)
            return
        await self._forward(owner, scope, receive, send)

    def _client(self, owner: int) -> Any:
        client = self._clients.get(owner)
        if client is None:
            import httpx2

            client = httpx2.AsyncClient(
                transport=httpx2.AsyncHTTPTransport(uds=str(worker_socket(self.directory, owner))),
                timeout=httpx2.Timeout(30.0, read=None),
            )
            self._clients[owner] = client
        return client

    async def _forward(self, owner: int, scope: Scope, receive: Receive, send: Send) -> None:
        async def body() -> Any:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"http://worker{scope['path']}" + (f"?{query}" if query else "")
        client = self._client(owner)
        request = client.build_request(scope["method"], url, headers=headers, content=body())
        response = await client.send(request, stream=True)
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [
                        (k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP
                    ],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
