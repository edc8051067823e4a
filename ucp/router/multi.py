"""Multi-step tasks: sub-intent decomposition with fused per-intent rankings, and server diversity.

Why: one embedding of "find the repo's open issues, summarise them and post to Slack"
lands between the intents, and the tools of the loudest one fill the top k.  Splitting
the task at clause boundaries (sentence ends, ";", ", then", " and then", " and "
before a verb-like clause) and ranking each clause on its own lets every needed tool
surface.  Fusion: a tool's score is ``max(full(t), SUB_WEIGHT * max_i sub_i(t))``
where every list is on the fused [0, 1] scale of its own query (top = 1), so the best
tool of each clause lands just under the best of the whole task; a task with one
clause is searched exactly as before (same scores, same order).

Second lever, :func:`diversify`: a greedy re-rank that charges ``penalty`` per tool
already picked from the same server, so a task's second and third servers are not
pushed out by a fourth tool of the first.

Measured cross-dataset in ``ucp bench retrieval --cross`` (``multi`` and ``diverse``
rows; ``ucp/router/RETRIEVAL.md`` has the numbers): on the dev sets neither moves
all-needed-tools@10 by more than a few thousandths, so neither is on in serving yet.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy.typing as npt

from ucp.router.hybrid import HybridRetriever, ScoredTool, SearchResult
from ucp.router.tokenize import tokenize

SUB_WEIGHT = 0.5  # 0.5-1.0 measured: higher weights cost metatool up to 0.02 R@10
DIVERSITY_PENALTY = 0.05
MAX_INTENTS = 4
MIN_TOKENS = 2  # a clause with fewer content words is not an intent of its own

_SPLIT = re.compile(
    r"(?:[.?!;]\s+|\s*,?\s+(?:and then|then|and also|also|as well as|and|plus|after that|afterwards)\s+|,\s+)",
    re.IGNORECASE,
)


def sub_intents(query: str, *, max_intents: int = MAX_INTENTS) -> list[str]:
    """The clauses of ``query`` that carry at least ``MIN_TOKENS`` content words (at most ``max_intents``).

    Fewer than two such clauses means the query is one intent: ``[]``.
    """
    parts = [p.strip() for p in _SPLIT.split(query) if p and p.strip()]
    out = [p for p in parts if len(tokenize(p)) >= MIN_TOKENS]
    if len(out) < 2:
        return []
    return out[:max_intents]


def fuse_intents(
    full: SearchResult, subs: list[SearchResult], k: int, *, sub_weight: float = SUB_WEIGHT
) -> list[ScoredTool]:
    """``max(full, sub_weight * max sub)`` per tool, best first, top ``k`` (see the module docstring)."""
    best: dict[str, ScoredTool] = {t.key: t for t in full}
    for res in subs:
        for t in res:
            s = sub_weight * t.score
            cur = best.get(t.key)
            if cur is None or s > cur.score:
                best[t.key] = _rescore(t, s)
    ranked = sorted(best.values(), key=lambda t: -t.score)
    return ranked[:k]


def _rescore(t: ScoredTool, score: float) -> ScoredTool:
    from dataclasses import replace

    return replace(t, score=score)


def multi_search(
    retriever: HybridRetriever,
    query: str,
    k: int,
    *,
    query_vector: npt.ArrayLike | None = None,
    encode: Callable[[str], Any] | None = None,
    sub_weight: float = SUB_WEIGHT,
    **kwargs: Any,
) -> SearchResult:
    """``retriever.search`` with multi-intent fusion; ``encode`` gives a clause's vector (default:
    the retriever's cached query encoder).  Other keyword arguments go to every search."""
    full = retriever.search(query, k, query_vector=query_vector, **kwargs)
    clauses = sub_intents(query)
    if not clauses:
        return full
    subs = []
    for c in clauses:
        vec = encode(c) if encode is not None and full.mode != "bm25" else None
        subs.append(retriever.search(c, k, query_vector=vec, **kwargs))
    tools = tuple(fuse_intents(full, subs, k, sub_weight=sub_weight))
    return SearchResult(tools, full.mode, full.requested_mode, full.query_vector)


def diversify(
    tools: Sequence[ScoredTool],
    server_of: Callable[[str], str],
    *,
    penalty: float = DIVERSITY_PENALTY,
    depth: int = 30,
) -> list[ScoredTool]:
    """Greedy re-rank of the first ``depth`` tools: each pick's score is charged ``penalty`` times the
    number of tools already picked from its server (scores are returned unchanged)."""
    head, tail = list(tools[:depth]), list(tools[depth:])
    picked: list[ScoredTool] = []
    seen: dict[str, int] = {}
    while head:
        j = max(range(len(head)), key=lambda i: head[i].score - penalty * seen.get(server_of(head[i].key), 0))
        t = head.pop(j)
        picked.append(t)
        s = server_of(t.key)
        seen[s] = seen.get(s, 0) + 1
    return picked + tail
