"""The router's contract with the session layer.

``Ranker.rank`` answers "which tools for this query, in this session?"; the
session layer (meta-tools, dynamic working sets, REST search) only sees this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ucp.router.catalog import CatalogEntry


@dataclass(frozen=True)
class RankContext:
    """What UCP knows about the session besides the query (a gateway never sees the chat)."""

    session_id: str = ""
    context: str = ""
    last_called: str | None = None
    recent_calls: tuple[str, ...] = ()
    tenant: str = ""  # whose learning state ranks and records ("": the default learner)


@dataclass(frozen=True)
class Ranked:
    entry: CatalogEntry
    score: float
    components: dict[str, float] = field(default_factory=dict)
    explored: bool = False
    confidence: float | None = None  # calibrated, comparable across queries (ucp.router.calibration)


@dataclass(frozen=True)
class Ranking:
    """One ranking shown to someone: results, and how it was served."""

    query: str
    results: tuple[Ranked, ...]
    mode: str = "bm25"  # which retrievers served: "hybrid", "bm25", "dense"
    ranking_id: str = ""
    match: str = ""  # "good" / "weak" / "none" from the best result's confidence ("" = not computed)
    servers: tuple[str, ...] = ()  # the registered (healthy) servers, for a "no good match" answer
    arm: str = ""  # the trained model version that served it ("" / "base": untrained), for A/B stats


class Ranker(Protocol):
    """Ranks run on a worker thread (query encoding must never block the protocol loop).

    ``visible`` drops candidates the caller may not see before the ranking is cut to ``keep``
    (default ``limit``) and recorded, so what is learned from is what was shown."""

    async def rank(
        self,
        query: str,
        *,
        limit: int,
        server: str | None = None,
        context: RankContext | None = None,
        record: bool = True,
        visible: Callable[[CatalogEntry], bool] | None = None,
        keep: int | None = None,
    ) -> Ranking: ...
