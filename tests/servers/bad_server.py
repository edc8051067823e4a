"""A raw JSON-RPC MCP server that lies: malformed tool schemas and results that do not
match their own output schema. No SDK, so nothing validates what it sends."""

from __future__ import annotations

import json
import sys

TOOLS = [
    {
        "name": "good",
        "description": "A well-formed tool that returns a count.",
        "inputSchema": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "outputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    },
    {"name": "empty_schema", "description": "Its input schema is {} (invalid for MCP).", "inputSchema": {}},
    {"name": "string_schema", "description": "Its input schema is a string.", "inputSchema": "nope"},
    {"description": "A tool without a name."},
    {
        "name": "array_props",
        "description": "properties is a list",
        "inputSchema": {"type": "object", "properties": ["a"]},
    },
]


def reply(msg_id, result=None, error=None):
    out = {"jsonrpc": "2.0", "id": msg_id}
    if error is not None:
        out["error"] = error
    else:
        out["result"] = result
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    msg = json.loads(line)
    method, msg_id = msg.get("method"), msg.get("id")
    if msg_id is None:
        continue  # notifications
    if method == "initialize":
        reply(
            msg_id,
            {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bad-server", "version": "0.0.1"},
            },
        )
    elif method == "tools/list":
        reply(msg_id, {"tools": TOOLS})
    elif method == "tools/call":
        name = msg["params"]["name"]
        if name == "good":
            reply(
                msg_id,
                {"content": [{"type": "text", "text": '{"n": "many"}'}], "structuredContent": {"n": "many"}},
            )
        else:
            reply(msg_id, {"content": [{"type": "text", "text": f"called {name}"}]})
    elif method == "ping":
        reply(msg_id, {})
    else:
        reply(msg_id, error={"code": -32601, "message": f"method not found: {method}"})
