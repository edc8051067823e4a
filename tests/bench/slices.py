"""The metatool slice split into two disjoint data sets (for the cross-dataset and train benches)."""

from __future__ import annotations

import json
from pathlib import Path

SLICE = Path(__file__).parent / "data" / "metatool_slice"


def two_sets(tmp_path: Path) -> list[tuple[str, Path, Path]]:
    """Sets ``a`` and ``b``: every other tool of the slice, each with the queries it can answer."""
    tools = [json.loads(line) for line in (SLICE / "tools.jsonl").read_text().splitlines() if line.strip()]
    queries = [
        json.loads(line) for line in (SLICE / "queries.jsonl").read_text().splitlines() if line.strip()
    ]
    out = []
    for name, half in (("a", tools[::2]), ("b", tools[1::2])):
        ids = {t["id"] for t in half}
        d = tmp_path / name
        d.mkdir()
        (d / "tools.jsonl").write_text("".join(json.dumps(t) + "\n" for t in half))
        qs = [q for q in queries if set(q["relevant"]) <= ids]
        (d / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs))
        out.append((name, d / "tools.jsonl", d / "queries.jsonl"))
    return out
