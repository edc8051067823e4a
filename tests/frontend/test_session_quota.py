"""Sessions per caller: the bookkeeping (clock passed in) and the middleware around an app that hands
out session ids the way the SDK's session manager does."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from ucp.frontend.session_quota import SessionQuota, SessionQuotaMiddleware, owner_of
from ucp.identity import LOCAL, Identity

pytestmark = pytest.mark.anyio


def test_a_session_counts_until_closed_or_idle() -> None:
    quota = SessionQuota(per_owner=2, idle_s=10)
    quota.opened("a", "alice", now=0)
    quota.opened("b", "alice", now=0)
    assert not quota.admits("alice", now=1) and quota.admits("bob", now=1)
    quota.closed("a")
    assert quota.admits("alice", now=1)
    quota.opened("a", "alice", now=1)
    quota.begin("b")  # a request (or a GET stream) in flight keeps a session alive however long
    assert quota.held("alice", now=100) == 1  # "a" idled out, "b" did not
    quota.end("b", now=100)
    assert quota.held("alice", now=109) == 1 and quota.held("alice", now=110) == 0


def test_the_owner_is_the_identity_or_the_address() -> None:
    scope: Any = {"client": ("10.0.0.7", 5555)}
    assert owner_of(scope, Identity(subject="dana", tenant="acme", via="jwt")) == "acme/dana"
    assert owner_of(scope, LOCAL) == "addr:10.0.0.7"
    assert owner_of(scope, Identity(subject="ops", via="key", operator=True)) == "addr:10.0.0.7"
    assert owner_of({}, None) == "addr:?"


class SdkLike:
    """A new id for a POST without one, 404 for an unknown id, DELETE ends a session."""

    def __init__(self) -> None:
        self.ids = (f"s{i}" for i in itertools.count())
        self.live: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        sid = headers.get(b"mcp-session-id", b"").decode()
        status, extra = 200, []
        if not sid:
            sid = next(self.ids)
            self.live.add(sid)
            extra = [(b"mcp-session-id", sid.encode())]
        elif sid not in self.live:
            status = 404
        elif scope["method"] == "DELETE":
            self.live.discard(sid)
        await send({"type": "http.response.start", "status": status, "headers": extra})
        await send({"type": "http.response.body", "body": b"{}"})


def client(per_identity: int, who: dict[str, Identity]) -> tuple[httpx2.AsyncClient, SdkLike]:
    sdk = SdkLike()

    def identity_of(scope: Scope) -> Identity:
        return who.get(dict(scope["headers"]).get(b"x-who", b"").decode(), LOCAL)

    app = SessionQuotaMiddleware(sdk, per_identity=per_identity, idle_s=600, identity_of=identity_of)
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1"), sdk


async def test_a_caller_at_the_limit_gets_429_and_others_do_not() -> None:
    who = {n: Identity(subject=n, via="key") for n in ("alice", "bob")}
    http, sdk = client(2, who)
    async with http:
        alice = {"x-who": "alice"}
        opened = [(await http.post("/mcp", headers=alice)).headers["mcp-session-id"] for _ in range(2)]
        refused = await http.post("/mcp", headers=alice)
        assert refused.status_code == 429 and refused.headers["retry-after"]
        error = refused.json()["error"]
        assert "2 of 2" in error["message"] and "max_sessions_per_identity" in error["message"]
        assert len(sdk.live) == 2  # the app never saw the refused request
        assert (await http.post("/mcp", headers={"x-who": "bob"})).status_code == 200
        # requests on an open session pass; ending one frees a slot
        assert (await http.post("/mcp", headers={**alice, "mcp-session-id": opened[0]})).status_code == 200
        assert (await http.delete("/mcp", headers={**alice, "mcp-session-id": opened[0]})).status_code == 200
        assert (await http.post("/mcp", headers=alice)).status_code == 200


async def test_a_session_the_server_forgot_frees_its_slot() -> None:
    http, sdk = client(1, {})
    async with http:
        sid = (await http.post("/mcp")).headers["mcp-session-id"]
        assert (await http.post("/mcp")).status_code == 429
        sdk.live.clear()  # expired or lost in a restart: the SDK answers 404 for it
        assert (await http.post("/mcp", headers={"mcp-session-id": sid})).status_code == 404
        assert (await http.post("/mcp")).status_code == 200


async def test_other_paths_and_methods_pass_untouched() -> None:
    http, sdk = client(1, {})
    async with http:
        for _ in range(3):
            assert (await http.post("/api/v1/tools/call")).status_code == 200
        assert (await http.get("/mcp")).status_code == 200  # a GET opens no session: not counted
        assert json.loads((await http.post("/mcp")).content) == {}  # so the one slot is still free
        assert (await http.post("/mcp")).status_code == 429
        assert len(sdk.live) == 5
