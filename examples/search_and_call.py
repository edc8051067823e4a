"""Search UCP's tools and call one, over streamable HTTP, with the MCP SDK client.

Run UCP first (`ucp serve --transport http`), then:
    python examples/search_and_call.py [http://127.0.0.1:8765/mcp] ["what time is it in Tokyo"]
"""

from __future__ import annotations

import sys

import anyio
from mcp import Client


async def main(url: str, query: str) -> None:
    async with Client(url, mode="legacy") as client:
        found = await client.call_tool("ucp__search_tools", {"query": query, "limit": 3})
        print(found.content[0].text)
        results = (found.structured_content or {}).get("results", [])
        if not results:
            return
        names = [r["name"] for r in results]
        best = "time__get_current_time" if "time__get_current_time" in names else names[0]
        described = await client.call_tool("ucp__describe_tool", {"name": best})
        print(f"\nschema of {best}: {(described.structured_content or {}).get('input_schema')}")
        if best == "time__get_current_time":  # a model would fill the arguments from the schema
            called = await client.call_tool("ucp__call_tool", {"name": best, "arguments": {"timezone": "Asia/Tokyo"}})
            print(f"\n{best} -> {called.structured_content or called.content[0].text}")


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8765/mcp",
              sys.argv[2] if len(sys.argv) > 2 else "what time is it in Tokyo")
