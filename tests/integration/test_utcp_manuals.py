"""UTCP in and out with a real `ucp serve`: registry entries of type `utcp` for a CLI manual
(manuals/examples/cli-tools.utcp.json) and an OpenAPI document served over HTTP
(manuals/examples/unit-converter.openapi.json), called through REST; and UCP's own manual
(GET /utcp) consumed by a real UtcpClient: loaded, searched, called."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest

from tests.helpers import PY, ROOT, SERVERS, background, free_port, venv_bin

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

EXAMPLES = ROOT / "manuals" / "examples"


@pytest.fixture(scope="module")
def ucp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ucp-manuals")
    service_port, port = free_port(), free_port()
    (home / "ucp.toml").write_text(f"""builtins = false

[servers.cli]
type = "utcp"
manual = "{EXAMPLES / "cli-tools.utcp.json"}"
allowed_protocols = ["cli"]
tags = ["shell"]

[servers.units]
type = "utcp"
manual = "http://127.0.0.1:{service_port}/openapi.json"

[servers.toy]
command = "{PY}"
args = ["{SERVERS / "toy_server.py"}"]
""")
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_API_KEYS": ""}
    with (
        background([PY, str(SERVERS / "utcp_service.py"), "--port", str(service_port)], port=service_port),
        background(
            [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"],
            port=port,
            env=env,
            timeout=60,
        ),
    ):
        yield f"http://127.0.0.1:{port}"


async def call(http: httpx2.AsyncClient, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    resp = await http.post("/api/v1/tools/call", json={"name": name, "arguments": arguments})
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    assert data["is_error"] is False, data
    return data


async def wait_for_tools(http: httpx2.AsyncClient, names: set[str]) -> None:
    with anyio.fail_after(30):
        while not names <= {t["name"] for t in (await http.get("/api/v1/tools")).json()["tools"]}:
            await anyio.sleep(0.1)


async def test_cli_manual_and_openapi_document_are_consumed(ucp_url: str) -> None:
    async with httpx2.AsyncClient(base_url=ucp_url, timeout=30) as http:
        await wait_for_tools(http, {"cli__word_count", "units__celsius_to_fahrenheit", "units__slugify"})
        counted = await call(http, "cli__word_count", {"text": "three short words"})
        assert counted["content"][0]["text"].strip() == "3"
        echoed = await call(http, "cli__echo_text", {"text": "$(whoami) `id`"})
        assert echoed["content"][0]["text"] == "$(whoami) `id`"  # arguments are data, never shell
        converted = await call(http, "units__celsius_to_fahrenheit", {"celsius": 100})
        assert converted["structured_content"] == {"celsius": 100.0, "fahrenheit": 212.0}
        slug = await call(http, "units__slugify", {"text": "Hello, UTCP World!"})
        assert slug["content"][0]["text"] == "hello-utcp-world"
        found = (await http.get("/api/v1/tools/search", params={"query": "celsius to fahrenheit"})).json()
        assert found["results"][0]["name"] == "units__celsius_to_fahrenheit"
        invalid = await http.post(
            "/api/v1/tools/call",
            json={"name": "units__celsius_to_fahrenheit", "arguments": {"celsius": "hot"}},
        )
        assert invalid.status_code == 422


async def test_ucp_manual_with_a_real_utcp_client(ucp_url: str) -> None:
    from utcp.utcp_client import UtcpClient

    async with httpx2.AsyncClient(base_url=ucp_url, timeout=30) as http:
        await wait_for_tools(http, {"toy__add", "cli__echo_text", "units__celsius_to_fahrenheit"})
    client = await UtcpClient.create(
        config={
            "manual_call_templates": [
                {"name": "ucp", "call_template_type": "http", "http_method": "GET", "url": f"{ucp_url}/utcp"}
            ]
        }
    )
    try:
        tools = await client.config.tool_repository.get_tools()
        assert {"ucp.toy__add", "ucp.cli__echo_text", "ucp.units__slugify"} <= {t.name for t in tools}
        found = await client.search_tools("add two integers", limit=3)
        assert found[0].name == "ucp.toy__add"
        assert await client.call_tool("ucp.toy__add", {"body": {"a": 1, "b": 2}}) == {"result": 3}
        # UTCP in (OpenAPI over HTTP, a CLI manual) and UTCP out, chained through UCP
        fahrenheit = await client.call_tool("ucp.units__celsius_to_fahrenheit", {"body": {"celsius": 0}})
        assert fahrenheit == {"celsius": 0.0, "fahrenheit": 32.0}
        assert (
            await client.call_tool("ucp.cli__echo_text", {"body": {"text": "through ucp"}}) == "through ucp"
        )
        with pytest.raises(Exception, match="invalid_arguments"):
            await client.call_tool("ucp.toy__add", {"body": {"a": "one"}})
    finally:
        await client.close()
