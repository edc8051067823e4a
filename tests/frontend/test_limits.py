"""BodyLimit: 413 for a declared or streamed body over the limit; streaming responses untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ucp.frontend.limits import BodyLimit

pytestmark = pytest.mark.anyio

LIMIT = 1024


def app(*, swallow: bool = False) -> BodyLimit:
    async def echo(request: Request) -> Response:
        try:
            body = await request.body()
        except Exception:
            if not swallow:
                raise
            return JSONResponse({"app": "answered anyway"}, status_code=400)
        return JSONResponse({"size": len(body)})

    async def stream(request: Request) -> Response:
        async def events() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"data: {i}\n\n".encode()
                await anyio.sleep(0)

        return StreamingResponse(events(), media_type="text/event-stream")

    inner = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/stream", stream)])
    return BodyLimit(inner, max_bytes=LIMIT)


def client(asgi: BodyLimit) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=asgi), base_url="http://127.0.0.1")


async def chunks(total: int, size: int = 256) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


async def test_small_body_passes() -> None:
    async with client(app()) as http:
        resp = await http.post("/echo", content=b"x" * LIMIT)
    assert resp.status_code == 200
    assert resp.json() == {"size": LIMIT}


async def test_declared_length_over_the_limit() -> None:
    async with client(app()) as http:
        resp = await http.post("/echo", content=b"x" * (LIMIT + 1))
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"
    assert resp.json()["error"]["details"]["limit"] == LIMIT


@pytest.mark.parametrize("swallow", [False, True])
async def test_streamed_body_over_the_limit(swallow: bool) -> None:
    async with client(app(swallow=swallow)) as http:
        resp = await http.post("/echo", content=chunks(LIMIT * 4))  # chunked: no Content-Length
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"


async def test_streamed_body_under_the_limit() -> None:
    async with client(app()) as http:
        resp = await http.post("/echo", content=chunks(LIMIT - 10))
    assert resp.json() == {"size": LIMIT - 10}


async def test_streaming_responses_pass_through() -> None:
    async with client(app()) as http, http.stream("GET", "/stream") as resp:
        received = [line async for line in resp.aiter_lines() if line]
    assert received == ["data: 0", "data: 1", "data: 2"]
