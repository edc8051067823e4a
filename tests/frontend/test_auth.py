"""Bearer keys (hashed, from config or env) and the keyless loopback guard (Host / Origin)."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from ucp.config.models import AuthSettings, HttpSettings
from ucp.errors import ConfigError
from ucp.frontend.auth import Authenticate, hash_key, load_keys
from ucp.identity.authenticator import Authenticator

pytestmark = pytest.mark.anyio


def authenticator(hashes: frozenset[str]) -> Authenticator:
    return Authenticator(AuthSettings(), HttpSettings(api_keys=tuple(sorted(hashes))), {})


def guarded(hashes: frozenset[str]) -> Authenticate:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Authenticate(
        Starlette(routes=[Route("/healthz", ok), Route("/api", ok), Route("/mcp", ok, methods=["POST"])]),
        authenticator=authenticator(hashes),
    )


def client(asgi: Authenticate, base: str = "http://127.0.0.1:8765") -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=asgi), base_url=base)


def test_load_keys_hashes_env_keys_and_refuses_plain_config_keys() -> None:
    settings = HttpSettings(api_keys=(hash_key("from-config"),))
    keys = load_keys(settings, {"UCP_API_KEYS": " one, two ,,"})
    assert keys == {hash_key("from-config"), hash_key("one"), hash_key("two")}
    assert all(k.startswith("sha256:") for k in keys)
    with pytest.raises(ConfigError) as info:
        load_keys(HttpSettings(api_keys=("plain-secret",)), {})
    assert "plain-secret" not in info.value.message
    assert load_keys(HttpSettings(), {}) == frozenset()


async def test_keys_required_everywhere_but_healthz() -> None:
    async with client(guarded(frozenset({hash_key("s3cret")}))) as http:
        assert (await http.get("/healthz")).status_code == 200
        for resp in (
            await http.get("/api"),
            await http.post("/mcp"),
            await http.get("/api", headers={"Authorization": "Bearer wrong"}),
            await http.get("/api", headers={"Authorization": "Basic s3cret"}),
        ):
            assert resp.status_code == 401
            assert resp.json()["error"]["code"] == "unauthorized"
            assert resp.headers["www-authenticate"].startswith("Bearer")
        assert (await http.get("/api", headers={"Authorization": "Bearer s3cret"})).status_code == 200
        assert (await http.post("/mcp", headers={"Authorization": "bearer s3cret"})).status_code == 200


async def test_keyless_loopback_refuses_foreign_host_and_origin() -> None:
    async with client(guarded(frozenset())) as http:
        assert (await http.get("/api")).status_code == 200
        assert (await http.get("/api", headers={"Origin": "http://localhost:3000"})).status_code == 200
        for headers in (
            {"Host": "evil.example:8765"},
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
        ):
            resp = await http.get("/api", headers=headers)
            assert resp.status_code == 421, headers
            assert resp.json()["error"]["code"] == "host_not_allowed"
        assert (await http.get("/healthz", headers={"Host": "evil.example"})).status_code == 200


async def test_keyless_guard_only_applies_to_loopback_sockets() -> None:
    # a non-loopback socket without keys cannot happen in `ucp serve` (check_bind refuses it)
    async with client(guarded(frozenset()), base="http://10.0.0.5:8765") as http:
        assert (await http.get("/api", headers={"Host": "anything"})).status_code == 200


async def test_websockets_are_checked_too() -> None:
    reached: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(scope["type"])

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "headers": [(b"host", b"127.0.0.1:8765")],
        "server": ("127.0.0.1", 8765),
    }
    await Authenticate(app, authenticator=authenticator(frozenset({hash_key("k")})))(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert reached == []
    keyed = {**scope, "headers": [*scope["headers"], (b"authorization", b"Bearer k")]}
    await Authenticate(app, authenticator=authenticator(frozenset({hash_key("k")})))(keyed, receive, send)
    assert reached == ["websocket"]
