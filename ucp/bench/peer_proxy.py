"""The peer we compare against: FastMCP's proxy (``fastmcp`` 4.1.0) in front of one server.

Usage: python -m ucp.bench.peer_proxy CONFIG_JSON [stdio | http PORT]
CONFIG_JSON is an ``{"mcpServers": {...}}`` object (the format FastMCP's proxy takes).
"""

from __future__ import annotations

import json
import sys

if __name__ == "__main__":
    from fastmcp.server import create_proxy

    config = json.loads(sys.argv[1])
    proxy = create_proxy(config, name="peer")
    if len(sys.argv) > 3 and sys.argv[2] == "http":
        proxy.run(transport="http", host="127.0.0.1", port=int(sys.argv[3]), show_banner=False)
    else:
        proxy.run(transport="stdio", show_banner=False)
