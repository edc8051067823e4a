"""UTCP out, in process: GET /utcp is a manual the utcp package accepts (built-in tools' schemas
included); POST /utcp/tools/{name} calls through the gateway; errors keep their codes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.helpers import ROOT, api_client, running_gateway, toy_server
from ucp.app import Gateway
from ucp.config.models import UtcpServer
from ucp.frontend.utcp_routes import utcp_schema

pytestmark = [pytest.mark.anyio, pytest.mark.integration]  # the toy server is a real process


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    cli = UtcpServer(
        name="cli",
        manual=str(ROOT / "manuals" / "examples" / "cli-tools.utcp.json"),
        allowed_protocols=("cli",),
    )
    async with running_gateway(
        [toy_server(), cli], tmp_path_factory.mktemp("utcp") / "home", builtins=True
    ) as gw:
        yield gw


async def test_manual_is_valid_utcp(gateway: Gateway) -> None:
    from utcp.data.utcp_manual import UtcpManualSerializer

    async with api_client(gateway) as http:
        manual = (await http.get("/utcp")).json()
    assert manual["utcp_version"].startswith("1.")
    names = {t["name"] for t in manual["tools"]}
    assert {"toy__add", "toy__echo", "cli__word_count"} <= names
    assert any(n.startswith("cloud__") for n in names)
    assert len(names) == len(gateway.catalog)
    parsed = UtcpManualSerializer().validate_dict(manual)  # the whole manual, built-in schemas included
    assert len(parsed.tools) == len(manual["tools"])
    add = next(t for t in manual["tools"] if t["name"] == "toy__add")
    template = add["tool_call_template"]
    assert template["url"] == "http://127.0.0.1:8765/utcp/tools/toy__add"
    assert template["http_method"] == "POST"
    assert template["body_field"] == "body"
    assert "auth" not in template  # no keys configured
    assert add["inputs"]["properties"]["body"]["properties"]["a"]["type"] == "integer"
    assert "toy" in add["tags"]


async def test_public_url_is_the_base(gateway: Gateway) -> None:
    original = gateway.config
    gateway.config = original.model_copy(
        update={"http": original.http.model_copy(update={"public_url": "https://ucp.example.com"})}
    )
    try:
        async with api_client(gateway) as http:
            manual = (await http.get("/utcp")).json()
    finally:
        gateway.config = original
    assert manual["tools"][0]["tool_call_template"]["url"].startswith("https://ucp.example.com/utcp/tools/")


async def test_manual_is_searchable_by_a_utcp_client(gateway: Gateway) -> None:
    from utcp.utcp_client import UtcpClient

    async with api_client(gateway) as http:
        manual = (await http.get("/utcp")).json()
    client = await UtcpClient.create(
        config={
            "manual_call_templates": [
                {
                    "name": "ucp",
                    "call_template_type": "text",
                    "content": json.dumps(manual).replace("$", "\\u0024"),
                    "allowed_communication_protocols": ["http"],
                }
            ]
        }
    )
    try:
        found = await client.search_tools("add two integers", limit=3)
        assert found[0].name == "ucp.toy__add"
    finally:
        await client.close()


async def test_call_returns_structured_or_text(gateway: Gateway) -> None:
    async with api_client(gateway) as http:
        added = await http.post("/utcp/tools/toy__add", json={"a": 1, "b": 2})
        assert added.status_code == 200
        assert added.json() == {"result": 3}
        assert (await http.post("/utcp/tools/toy__echo", json={"text": "x"})).json() == {"result": "x"}
        echoed = await http.post("/utcp/tools/cli__echo_text", json={"text": "plain"})  # UTCP in, UTCP out
        assert echoed.status_code == 200
        assert echoed.headers["content-type"].startswith("text/plain")
        assert echoed.text == "plain"


async def test_call_errors(gateway: Gateway) -> None:
    async with api_client(gateway) as http:
        invalid = await http.post("/utcp/tools/toy__add", json={"a": "x"})
        assert invalid.status_code == 422
        assert invalid.json()["error"]["code"] == "invalid_arguments"
        unknown = await http.post("/utcp/tools/nope__tool", json={})
        assert unknown.status_code == 404
        assert unknown.json()["error"]["code"] == "unknown_tool"
        not_object = await http.post("/utcp/tools/toy__add", json=[1, 2])
        assert not_object.status_code == 400
        slow = await http.post("/utcp/tools/toy__slow", json={"seconds": "x"})
        assert slow.status_code == 422


async def test_keys_put_auth_into_the_templates(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UCP_API_KEYS", "k1")
    async with api_client(gateway) as http:
        assert (await http.get("/utcp")).status_code == 401
        manual = (await http.get("/utcp", headers={"Authorization": "Bearer k1"})).json()
    auth = manual["tools"][0]["tool_call_template"]["auth"]
    assert auth == {
        "auth_type": "api_key",
        "api_key": "Bearer ${API_KEY}",
        "var_name": "Authorization",
        "location": "header",
    }


def test_utcp_schema_repairs_what_utcp_rejects() -> None:
    from utcp.data.tool import JsonSchema

    schema = {
        "type": "object",
        "properties": {
            "any": True,
            "never": False,
            "list": {"type": "array", "items": True},
            "union": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": "any",
        "additionalProperties": {"type": "string"},
        "title": 5,
        "minimum": True,
        "$defs": {"X": {"type": "string"}},
    }
    fixed = utcp_schema(schema)
    JsonSchema.model_validate(fixed)
    assert fixed["properties"]["any"] == {}
    assert fixed["properties"]["never"] == {"not": {}}
    assert fixed["properties"]["list"]["items"] == {}
    assert "required" not in fixed and "title" not in fixed and "minimum" not in fixed
    assert fixed["properties"]["union"]["anyOf"][1] == {"type": "null"}
    assert fixed["$defs"] == {"X": {"type": "string"}}
