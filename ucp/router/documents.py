"""The unit the router ranks: one tool, flattened to what retrieval needs.

The catalog builds a ``ToolDoc`` for every tool of every downstream; the
retrievers (BM25, dense), the embedding cache and the benchmarks only ever see
``ToolDoc``s, so the same ranking code serves ``ucp serve`` and ``ucp bench``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


def content_hash(name: str, description: str, input_schema: dict[str, Any], server: str = "") -> str:
    """A stable hash of what a tool *says* (used to pin definitions and key embeddings).

    Key order in the schema does not matter; whitespace in the description does.
    """
    payload = json.dumps(
        {"server": server, "name": name, "description": description, "input_schema": input_schema},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class ToolDoc:
    """One tool as the router sees it.

    ``key`` is unique in a catalog (the exposed name, e.g. ``time__get_current_time``);
    ``name`` is the tool's own name on its server (``get_current_time``).
    """

    key: str
    name: str
    server: str
    description: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    title: str = ""

    @property
    def content_hash(self) -> str:
        return content_hash(self.name, self.description, self.input_schema, self.server)
