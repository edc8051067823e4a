"""A trivial MCP server for the proxy benchmark: one ``echo`` tool, stdio or streamable HTTP.

Usage: python -m ucp.bench.echo_server [stdio | http PORT]
"""

from __future__ import annotations

import sys

from mcp.server import MCPServer

mcp = MCPServer("bench-echo")


@mcp.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        mcp.run("stdio")
