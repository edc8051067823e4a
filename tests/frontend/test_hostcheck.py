"""A loopback bind answers only requests whose Host names loopback (DNS rebinding, Host tricks)."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from ucp.frontend.hostcheck import LoopbackHostOnly, host_is_loopback

pytestmark = pytest.mark.anyio


def test_loopback_spellings() -> None:
    for host in ("127.0.0.1", "127.0.0.1:8765", "localhost", "LOCALHOST:1", "[::1]:8765", "127.1.2.3"):
        assert host_is_loopback(host), host
    for host in ("evil.example", "10.0.0.1:80", "localhost.evil.example", "[::2]", ""):
        assert not host_is_loopback(host), host


async def test_a_foreign_host_gets_421() -> None:
    async def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = LoopbackHostOnly(Starlette(routes=[Route("/healthz", ok)]))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        assert (await client.get("/healthz")).status_code == 200
        foreign = await client.get("/healthz", headers={"Host": "evil.example"})
        assert foreign.status_code == 421
        assert foreign.json()["error"]["code"] == "misdirected_request"
