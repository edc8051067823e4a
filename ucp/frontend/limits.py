"""Request body limit, as pure ASGI middleware (streaming responses pass through untouched).

A request whose ``Content-Length`` is over ``max_bytes`` is answered 413 before
the app sees it. A body sent without a length (chunked) is counted as it is
read: the moment it passes the limit UCP answers 413 itself, the app's read
fails, and whatever the app then tries to send is dropped. Responses are never
buffered, so MCP's SSE streams are not affected.

A body that does not arrive within ``body_timeout`` seconds of the request (a slowloris
dribbling bytes) is answered 408 and the app's read fails (``BodyTimeout``).

After a 413 the rest of the body is read and discarded (at most ``DRAIN_BYTES``,
for at most ``DRAIN_SECONDS``): a client still sending when the server closes
would see a connection reset instead of the 413.
"""

from __future__ import annotations

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DRAIN_BYTES = 1024 * 1024
DRAIN_SECONDS = 2.0


class BodyTooLarge(Exception):
    """Raised into the app's ``receive`` when a streamed body passes the limit."""


class BodyTimeout(Exception):
    """Raised into the app's ``receive`` when the body is not complete within the timeout."""


async def send_408(send: Send, seconds: float) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "request_timeout",
                "message": f"the request body did not arrive within {seconds:g} s ([http] body_timeout)",
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 408,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _payload(max_bytes: int) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"the request body is larger than {max_bytes} bytes ([http] max_body_bytes)",
                "details": {"limit": max_bytes},
            }
        }
    ).encode()


async def send_413(send: Send, max_bytes: int) -> None:
    body = _payload(max_bytes)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def drain(receive: Receive, limit: int = DRAIN_BYTES) -> None:
    """Read and drop what is left of a refused body, within bounds."""
    seen = 0
    with anyio.move_on_after(DRAIN_SECONDS):
        while seen <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, body_timeout: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await send_413(send, self.max_bytes)
                    if declared <= self.max_bytes + DRAIN_BYTES:
                        await drain(receive)
                    return
        received = 0
        started = False
        rejected = False
        body_done = False
        deadline = anyio.current_time() + self.body_timeout

        async def limited_receive() -> Message:
            nonlocal received, rejected, body_done
            if body_done:
                return await receive()  # e.g. an SSE stream waiting for the disconnect: no deadline
            try:
                with anyio.fail_after(max(0.0, deadline - anyio.current_time())):
                    message = await receive()
            except TimeoutError:
                if not rejected and not started:
                    rejected = True
                    await send_408(send, self.body_timeout)
                raise BodyTimeout(f"request body not complete within {self.body_timeout:g} s") from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if not rejected and not started:
                        rejected = True
                        await send_413(send, self.max_bytes)
                        if message.get("more_body", False):
                            await drain(receive)
                    raise BodyTooLarge(f"request body over {self.max_bytes} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return  # UCP already answered 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if rejected:
                return
            raise
