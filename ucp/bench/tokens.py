"""Token cost of ``tools/list`` per exposure mode, on a catalog built from a data set.

The catalog holds ``count`` tools from ``tools.jsonl`` (replicated under other server names
when the file has fewer), listed exactly as UCP would list them (exposed names, schemas).
Tokens are estimated as in ``ucp.session.tokens`` (compact JSON, ~4 characters a token).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import mcp_types as types

from ucp.bench.datasets import load_tools
from ucp.config.models import ExposureSettings
from ucp.router.catalog import Catalog
from ucp.session.tokens import catalog_report


def catalog_from_dataset(tools_path: str | Path, count: int | None = None) -> Catalog:
    docs = load_tools(tools_path)
    if not docs:
        raise ValueError(f"{tools_path}: no tools")
    wanted = count or len(docs)
    by_server: dict[str, list[types.Tool]] = defaultdict(list)
    for i in range(wanted):
        doc = docs[i % len(docs)]
        copy = i // len(docs)
        server = (doc.server or "tools").replace(".", "_")[:24] + (f"-{copy}" if copy else "")
        schema = doc.input_schema if doc.input_schema.get("type") == "object" else {"type": "object"}
        by_server[server].append(
            types.Tool(
                name=f"{doc.name}_{i}" if copy else doc.name, description=doc.description, input_schema=schema
            )
        )
    catalog = Catalog()
    for server, tools in by_server.items():
        # names may repeat inside one data set: keep the first of each
        unique = list({t.name: t for t in reversed(tools)}.values())
        catalog.set_server_tools(server, unique)
    return catalog


def run_token_bench(
    tools_path: str | Path, count: int = 500, settings: ExposureSettings | None = None
) -> dict[str, Any]:
    return catalog_report(catalog_from_dataset(tools_path, count), settings or ExposureSettings())
