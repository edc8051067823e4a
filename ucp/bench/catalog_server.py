"""An MCP server exposing N tools taken from a tool-retrieval data set, for footprint benchmarks.

Why: the serving RSS budget is stated at the catalog sizes users have (500 and 10,000 tools), so
the benchmark needs a real downstream with that many real-looking tools (names, descriptions,
input schemas from ``tools.jsonl``; past the file's size, the copies ``scale_corpus`` makes).
Every call answers ``ok``: only listing and ranking matter here.

Usage: python -m ucp.bench.catalog_server TOOLS.jsonl COUNT   (stdio)
"""

from __future__ import annotations

import re
import sys
from typing import Any

import anyio
import mcp_types as types

from ucp.bench.datasets import load_tools
from ucp.bench.retrieval import scale_corpus


def _tool_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:60]


def catalog(tools_file: str, count: int) -> list[types.Tool]:
    """``count`` MCP tools from the data set, with names made unique and MCP-valid."""
    docs, _ = scale_corpus(load_tools(tools_file), count)
    out: list[types.Tool] = []
    seen: set[str] = set()
    for i, d in enumerate(docs[:count]):
        name = _tool_name(d.name) or f"tool_{i}"
        if name in seen:
            name = f"{name[:52]}_{i}"
        seen.add(name)
        schema: dict[str, Any] = (
            dict(d.input_schema) if d.input_schema else {"type": "object", "properties": {}}
        )
        out.append(types.Tool(name=name, description=d.description or d.name, input_schema=schema))
    return out


async def serve(tools: list[types.Tool]) -> None:
    from mcp.server import Server
    from mcp.server.stdio import stdio_server

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text="ok")])

    server: Server[Any] = Server("bench-catalog", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":  # pragma: no cover - a benchmark's subprocess
    anyio.run(serve, catalog(sys.argv[1], int(sys.argv[2])))
