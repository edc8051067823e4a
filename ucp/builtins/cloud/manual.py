"""Generate the UTCP manual for the cloud tools from their definitions.

``python -m ucp.builtins.cloud.manual`` writes ``manuals/cloud.utcp.json``; a test
regenerates it in memory and fails if the file is stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ucp.builtins.cloud import SERVER
from ucp.frontend.utcp_manual import build_manual

MANUAL_VERSION = "1.0.0"
DEFAULT_BASE_URL = "http://127.0.0.1:8765"
MANUAL_PATH = Path(__file__).resolve().parents[3] / "manuals" / "cloud.utcp.json"


def generate_manual(base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    tools = [
        {
            "name": f"{SERVER.name}__{t.name}",
            "description": t.description,
            "input_schema": t.input_model.model_json_schema(),
            "output_schema": t.output_model.model_json_schema(mode="serialization"),  # as the MCP adapter publishes it
            "tags": t.tags,
        }
        for t in SERVER.tools
    ]
    return build_manual(tools, manual_version=MANUAL_VERSION, base_url=base_url)


def render(manual: dict[str, Any]) -> str:
    return json.dumps(manual, indent=2, sort_keys=True) + "\n"


def main() -> None:
    MANUAL_PATH.parent.mkdir(parents=True, exist_ok=True)
    MANUAL_PATH.write_text(render(generate_manual()), encoding="utf-8")
    print(f"wrote {MANUAL_PATH}")


if __name__ == "__main__":
    main()
