"""Token cost of what UCP lists.

Counted as ``ceil(characters / 4)`` of the compact JSON a host receives for the
``tools`` array — the usual rule of thumb for English text and JSON under BPE
tokenisers (OpenAI documents "about 4 characters per token"). It is an estimate:
real tokenisers differ by model, and schemas full of punctuation cost a little
more. Used for the dynamic working-set budget and the token-cost report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import mcp_types as types

if TYPE_CHECKING:
    from ucp.config.models import ExposureSettings
    from ucp.router.catalog import Catalog

CHARS_PER_TOKEN = 4
METHOD = "ceil(characters of the compact JSON tools array / 4)"


def tool_json(tool: types.Tool) -> str:
    return json.dumps(
        tool.model_dump(mode="json", by_alias=True, exclude_none=True),
        separators=(",", ":"),
        ensure_ascii=False,
    )


def approx_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def tool_tokens(tool: types.Tool) -> int:
    return approx_tokens(tool_json(tool))


def list_tokens(tools: Iterable[types.Tool]) -> int:
    """Tokens of a whole ``tools/list`` result payload."""
    payload: dict[str, Any] = {"tools": [json.loads(tool_json(t)) for t in tools]}
    return approx_tokens(json.dumps(payload, separators=(",", ":"), ensure_ascii=False))


def mode_costs(
    all_tools: list[types.Tool],
    meta_tools: list[types.Tool],
    pinned: list[types.Tool],
    *,
    dynamic_max_tools: int,
    dynamic_token_budget: int,
) -> dict[str, int]:
    """Tokens of the ``tools/list`` payload in each exposure mode.

    ``dynamic`` is its worst case: a full working set (the ``dynamic_max_tools`` largest tools,
    capped by the token budget) on top of the search-mode list.
    """
    search = list_tokens([*meta_tools, *pinned])
    sizes = sorted((tool_tokens(t) for t in all_tools), reverse=True)[:dynamic_max_tools]
    working = 0
    for size in sizes:
        if working + size > dynamic_token_budget:
            break
        working += size
    return {"full": list_tokens(all_tools), "search": search, "dynamic": search + working}


def catalog_report(catalog: Catalog, settings: ExposureSettings) -> dict[str, Any]:
    """What listing ``catalog`` costs in each mode (``ucp route tokens``, ``ucp bench tokens``)."""
    from ucp.session import metatools

    entries = catalog.sorted_entries()
    costs = mode_costs(
        [e.exposed_tool() for e in entries],
        metatools.definitions(),
        [e.exposed_tool() for e in entries if e.pinned],
        dynamic_max_tools=settings.dynamic_max_tools,
        dynamic_token_budget=settings.dynamic_token_budget,
    )
    full = max(1, costs["full"])
    return {
        "tools": len(entries),
        "tokens": costs,
        "share_of_full": {mode: round(v / full, 4) for mode, v in costs.items()},
        "method": METHOD,
        "dynamic": f"worst case: meta-tools + a full working set ({settings.dynamic_max_tools} largest tools, "
        f"budget {settings.dynamic_token_budget} tokens)",
    }
