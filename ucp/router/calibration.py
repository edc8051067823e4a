"""Calibrated match confidence: a probability-like score a model can act on, comparable across queries.

Why: the ranking score is scaled per query (the top tool is always ~1.0), so "create a
GitHub issue" with no GitHub server registered showed ``git__git_create_branch`` at
1.000 and the model could not tell a match from nothing.  The confidence of a tool is

    sigmoid(A_COS * cosine + A_Z * z + B)          (hybrid / dense: cosine = MiniLM similarity)
    sigmoid(A_Z_BM25 * z + B_BM25)                 (BM25 only)

where ``z`` is the fused z-score over the catalog (:func:`ucp.router.fusion.fused_z`).
The coefficients are a logistic regression of "this top-10 tool is relevant" on the
dev sets (2,000 queries each of metatool and toollens, 40,000 rows), checked
cross-dataset: fitted on one set, the z-only model has ECE 0.028-0.034 and AUC
0.76 / 0.90 on the other (the cosine adds little; it is kept so that tiny
catalogs, whose z-scores cannot be large, still get a usable figure).  Small
catalogs: the largest z-score n scores can reach is sqrt(n - 1), so z is scaled up
to a 50-tool reference below that size (a heuristic: not measured, the dev
catalogs have 199 and 464 tools).

Levels: ``good`` (>= GOOD = 0.20), ``weak`` (>= WEAK = 0.10), ``none`` below; set on a 22-tool catalog
(built-in cloud tools + time, git, fetch, memory, filesystem): right answers 0.16-0.48,
"create a GitHub issue" (no GitHub server) 0.18, "book a flight" 0.03, "send a Slack message" 0.10.
"""

from __future__ import annotations

import math
from typing import Literal

A_COS, A_Z, B = 1.60, 0.95, -5.72
A_Z_BM25, B_BM25 = 1.03, -5.44
GOOD = 0.20
WEAK = 0.10
REF_TOOLS = 50

Match = Literal["good", "weak", "none"]


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def confidence(z: float, cosine: float | None, n_tools: int) -> float:
    """The calibrated probability that a tool with fused z-score ``z`` (and dense ``cosine``) fits."""
    if n_tools < REF_TOOLS:
        z *= math.sqrt((REF_TOOLS - 1) / max(n_tools - 1, 1))
    if cosine is None:
        return _sigmoid(A_Z_BM25 * z + B_BM25)
    return _sigmoid(A_COS * cosine + A_Z * z + B)


def match_level(top_confidence: float | None) -> Match:
    """``good`` / ``weak`` / ``none`` from the best tool's confidence (None: nothing matched)."""
    if top_confidence is None or top_confidence < WEAK:
        return "none"
    return "good" if top_confidence >= GOOD else "weak"
