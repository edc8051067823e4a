"""A raw JSON-RPC MCP server that misbehaves on demand (fault tests, ``ucp.bench.reliability``).

Tools: ``echo`` (text back), ``flood`` (answers with one line of ``size`` bytes that is no
valid message, then the real answer), ``big`` (a valid result of ``size`` bytes), ``freeze``
(stops reading and answering: a hung server), ``pid`` (its process id, and the pid of a
child it keeps running: orphan tests), ``crash`` (exits at once).
Modes (first argument): ``flap`` exits right after the handshake (a flapping server).
No SDK, so nothing stops it from lying.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else ""
TOOLS = [
    {"name": n, "description": f"The {n} tool.", "inputSchema": {"type": "object", "properties": p}}
    for n, p in (
        ("echo", {"text": {"type": "string"}}),
        ("flood", {"size": {"type": "integer"}}),
        ("big", {"size": {"type": "integer"}}),
        ("freeze", {}),
        ("pid", {}),
        ("crash", {}),
    )
]
_child: subprocess.Popen[bytes] | None = None


def send(obj: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def text(msg_id: object, value: str) -> None:
    send({"jsonrpc": "2.0", "id": msg_id, "result": {"content": [{"type": "text", "text": value}]}})


def main() -> None:
    global _child
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        method, msg_id = msg.get("method"), msg.get("id")
        if msg_id is None:
            if method == "notifications/initialized" and MODE == "flap":
                sys.exit(3)
            continue
        params = msg.get("params") or {}
        if method == "initialize":
            send(
                {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "result": {
                        "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                        "capabilities": {"tools": {}},
                        "serverInfo": {"name": "faulty-server", "version": "0.0.1"},
                    },
                }
            )
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {"tools": TOOLS}})
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": msg_id, "result": {}})
        elif method == "tools/call":
            name, args = params.get("name"), params.get("arguments") or {}
            if name == "echo":
                text(msg_id, str(args.get("text", "")))
            elif name == "flood":
                size = int(args.get("size", 50_000_000))
                block = "x" * 1_000_000
                for _ in range(size // len(block)):
                    sys.stdout.write(block)
                sys.stdout.write("\n")
                sys.stdout.flush()
                text(msg_id, "after the flood")
            elif name == "big":
                size = int(args.get("size", 20_000_000))
                text(msg_id, "y" * size)
            elif name == "freeze":
                while True:
                    time.sleep(3600)
            elif name == "pid":
                if _child is None:
                    _child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
                text(msg_id, json.dumps({"pid": os.getpid(), "child": _child.pid}))
            elif name == "crash":
                os._exit(1)
            else:
                send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32602, "message": "unknown tool"}})
        else:
            send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": "method not found"}})


if __name__ == "__main__":
    main()
