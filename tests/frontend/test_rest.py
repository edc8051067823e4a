"""The REST API, in process: tools (list, context-ranked list, search, call), sessions, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from tests.helpers import api_client, running_gateway, toy_server
from ucp.app import Gateway

pytestmark = [pytest.mark.anyio, pytest.mark.integration]  # the toy server is a real process


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    """One gateway for the module (starting the toy server is the slow part)."""
    async with running_gateway([toy_server()], tmp_path_factory.mktemp("rest") / "home") as gw:
        yield gw


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[httpx2.AsyncClient]:
    async with api_client(gateway) as client:
        yield client


def error_code(resp: httpx2.Response) -> str:
    return str(resp.json()["error"]["code"])


async def test_list_every_tool(http: httpx2.AsyncClient) -> None:
    resp = await http.get("/api/v1/tools")
    assert resp.status_code == 200
    data = resp.json()
    assert data["ranked"] is False
    tools = {t["name"]: t for t in data["tools"]}
    assert data["count"] == len(tools) >= 6
    assert tools["toy__add"] == {
        "name": "toy__add",
        "server": "toy",
        "description": "Add two integers.",
        "signature": "a: integer, b: integer",
        "healthy": True,
        "score": None,
    }


async def test_list_ranked_by_context_records_it_in_the_session(http: httpx2.AsyncClient) -> None:
    session = (await http.post("/api/v1/sessions", json={"client_name": "dashboard"})).json()
    resp = await http.get(
        "/api/v1/tools", params={"session_id": session["id"], "context": "add two integers", "limit": 3}
    )
    data = resp.json()
    assert data["ranked"] is True
    assert data["tools"][0]["name"] == "toy__add"
    assert len(data["tools"]) <= 3
    history = (await http.get(f"/api/v1/sessions/{session['id']}/history")).json()["history"]
    assert history[-1]["kind"] == "context"
    assert history[-1]["text"] == "add two integers"
    # the session's context now ranks the list without a new context
    again = (await http.get("/api/v1/tools", params={"session_id": session["id"]})).json()
    assert again["ranked"] is True
    assert again["tools"][0]["name"] == "toy__add"


async def test_search(http: httpx2.AsyncClient) -> None:
    resp = await http.get("/api/v1/tools/search", params={"query": "echo the text back", "top_k": 2})
    assert resp.status_code == 200
    data = resp.json()
    assert data["results"][0]["name"] == "toy__echo"
    assert len(data["results"]) <= 2
    assert isinstance(data["results"][0]["score"], float)
    bad = await http.get("/api/v1/tools/search", params={"query": "x", "top_k": 0})
    assert bad.status_code == 422
    assert error_code(bad) == "invalid_request"
    assert bad.json()["error"]["details"]["field"] == "top_k"
    missing = await http.get("/api/v1/tools/search")
    assert missing.status_code == 422


async def test_call_validates_and_keeps_the_session(http: httpx2.AsyncClient) -> None:
    resp = await http.post("/api/v1/tools/call", json={"name": "toy__add", "arguments": {"a": 2, "b": 40}})
    assert resp.status_code == 200
    data = resp.json()
    assert data["is_error"] is False
    assert data["structured_content"] == {"result": 42}
    assert data["content"][0]["type"] == "text"
    sid = data["session_id"]
    again = await http.post(
        "/api/v1/tools/call",
        headers={"X-UCP-Session": sid},
        json={"name": "toy__echo", "arguments": {"text": "hi"}},
    )
    assert again.json()["session_id"] == sid
    history = (await http.get(f"/api/v1/sessions/{sid}/history")).json()["history"]
    assert [h["tool"] for h in history if h["kind"] == "call"] == ["toy__add", "toy__echo"]

    invalid = await http.post(
        "/api/v1/tools/call", json={"name": "toy__add", "arguments": {"a": "two", "b": 1}}
    )
    assert invalid.status_code == 422
    assert error_code(invalid) == "invalid_arguments"
    assert invalid.json()["error"]["details"]["field"] == "a"
    unknown = await http.post("/api/v1/tools/call", json={"name": "toy__addd", "arguments": {}})
    assert unknown.status_code == 404
    assert error_code(unknown) == "unknown_tool"
    assert "toy__add" in unknown.json()["error"]["details"]["suggestions"]


async def test_sessions(http: httpx2.AsyncClient) -> None:
    created = await http.post(
        "/api/v1/sessions", json={"client_name": "orchestrator", "context": "time zones"}
    )
    assert created.status_code == 201
    session = created.json()
    assert session["client"]["name"] == "orchestrator"
    assert session["transport"] == "rest"
    read = await http.get(f"/api/v1/sessions/{session['id']}")
    assert read.json()["history_length"] == 1
    fed = await http.post(
        f"/api/v1/sessions/{session['id']}/context", json={"text": "echo some text", "top_k": 2}
    )
    assert fed.status_code == 200
    assert fed.json()["history_length"] == 2
    assert fed.json()["tools"][0]["name"] == "toy__echo"
    empty = await http.post("/api/v1/sessions")
    assert empty.status_code == 201


async def test_errors_are_json_with_stable_codes(http: httpx2.AsyncClient) -> None:
    for resp, status, code in [
        (await http.get("/api/v1/sessions/nope"), 404, "unknown_session"),
        (await http.get("/api/v1/sessions/nope/history"), 404, "unknown_session"),
        (await http.post("/api/v1/sessions/nope/context", json={"text": "x"}), 404, "unknown_session"),
        (await http.post("/api/v1/tools/call", content=b"{not json"), 400, "invalid_json"),
        (await http.post("/api/v1/tools/call", content=b""), 400, "invalid_json"),
        (await http.post("/api/v1/tools/call", json={"arguments": {}}), 422, "invalid_request"),
        (await http.post("/api/v1/tools/call", json=[1]), 422, "invalid_request"),
        (
            await http.post("/api/v1/tools/call", json={"name": "toy__add", "session_id": "gone"}),
            404,
            "unknown_session",
        ),
    ]:
        assert resp.status_code == status, resp.text
        assert error_code(resp) == code
        assert resp.json()["error"]["message"]


async def test_unknown_routes_and_methods_are_json(http: httpx2.AsyncClient) -> None:
    missing = await http.get("/api/v2/nothing")
    assert missing.status_code == 404
    assert error_code(missing) == "not_found"
    wrong = await http.put("/api/v1/tools")
    assert wrong.status_code == 405
    assert error_code(wrong) == "method_not_allowed"
    assert "GET" in wrong.headers["allow"]
    assert (await http.delete("/registry/health")).status_code == 405
