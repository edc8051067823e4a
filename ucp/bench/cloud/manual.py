"""Generate the UTCP manual and the MCP listing of the cloud tools from their definitions.

``python -m ucp.bench.cloud.manual`` writes ``manuals/cloud.utcp.json`` and
``ucp/builtins/cloud/tools.json`` (the tool definitions exactly as the built-in adapter
lists them: UCP answers the first ``tools/list`` from this file and imports the tools'
code only at the first call, keeping cold start short). Tests regenerate both in memory
and fail if a file is stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ucp.builtins.cloud.server import SERVER
from ucp.frontend.utcp_manual import build_manual

MANUAL_VERSION = "1.0.0"
DEFAULT_BASE_URL = "http://127.0.0.1:8765"
MANUAL_PATH = Path(__file__).resolve().parents[3] / "manuals" / "cloud.utcp.json"
LISTING_PATH = Path(__file__).resolve().parents[2] / "builtins" / "cloud" / "tools.json"


def generate_listing() -> list[dict[str, Any]]:
    from ucp.downstream.builtin import tool_definition

    return [
        tool_definition(t).model_dump(mode="json", by_alias=True, exclude_none=True) for t in SERVER.tools
    ]


def generate_manual(base_url: str = DEFAULT_BASE_URL) -> dict[str, Any]:
    tools = [
        {
            "name": f"{SERVER.name}__{t.name}",
            "description": t.description,
            "input_schema": t.input_model.model_json_schema(),
            "output_schema": t.output_model.model_json_schema(
                mode="serialization"
            ),  # as the MCP adapter publishes it
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
    LISTING_PATH.write_text(json.dumps(generate_listing(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {LISTING_PATH}")


if __name__ == "__main__":
    main()
