"""The catalog server's tools: N of them, unique MCP-valid names, schemas from the data set."""

from __future__ import annotations

import re
from pathlib import Path

from ucp.bench.catalog_server import catalog

SLICE = Path(__file__).parent / "data" / "metatool_slice" / "tools.jsonl"


def test_n_tools_with_unique_valid_names_past_the_file_size() -> None:
    tools = catalog(str(SLICE), 100)  # the slice has 40: the rest are scale_corpus copies
    assert len(tools) == 100
    names = [t.name for t in tools]
    assert len(set(names)) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", n) for n in names), names
    assert all(t.description and t.input_schema["type"] == "object" for t in tools)
