"""A small, controllable MCP server for tests (a real process speaking MCP over stdio or HTTP).

Tools: echo, add (structured output), slow (sleeps), progress (reports progress),
crash (exits the process), grow (registers a new tool and sends list_changed).
Also a resource and a prompt. Usage: python toy_server.py [stdio | http PORT | sse PORT]
"""

from __future__ import annotations

import os
import sys

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

mcp = MCPServer(os.environ.get("TOY_NAME", "toy"))


@mcp.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@mcp.tool()
async def slow(seconds: float) -> str:
    """Sleep for a number of seconds, then answer. A cancellation is recorded in $TOY_CANCEL_LOG."""
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        marker = os.environ.get("TOY_CANCEL_LOG")
        if marker:
            with open(marker, "a") as fh:
                fh.write(f"cancelled after asking for {seconds}\n")
        raise
    return f"slept {seconds}"


@mcp.tool()
async def progress(steps: int, ctx: Context) -> str:
    """Report progress in steps."""
    for i in range(1, steps + 1):
        await ctx.report_progress(i, steps, f"step {i}")
        await anyio.sleep(0.01)
    return "done"


@mcp.tool()
def crash() -> str:
    """Exit the server process at once (simulates a crash)."""
    sys.stdout.flush()
    os._exit(3)


@mcp.tool()
async def grow(name: str, ctx: Context) -> str:
    """Register a new tool with this name and announce it with list_changed."""

    def new_tool() -> str:
        return f"I am {name}"

    mcp.add_tool(new_tool, name=name, description=f"A tool added at run time: {name}")
    await ctx.session.send_tool_list_changed()
    return f"added {name}"


@mcp.resource("toy://info")
def info() -> str:
    """Information about the toy server."""
    return "toy server info"


@mcp.prompt()
def greet(name: str) -> str:
    """Greet someone."""
    return f"Hello, {name}!"


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "stdio":
        mcp.run("stdio")
    elif mode == "http":
        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    elif mode == "sse":
        mcp.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode}")
