"""Tool-side learning from use, versioned with the query adapter (``ucp train``). Pure numpy.

Two things a trained model version holds per tool besides the adapter, both learned from
the logged (query, called-and-succeeded tool) pairs it was trained on:

- :class:`ToolExpansion` ("document expansion from clicks"):

  - *use vectors*: ``u = normalise(v + alpha * n / (n + 1) * c)`` where ``v`` is the tool's
    description vector, ``c`` the unit centroid of the ``n`` query vectors that led to a
    successful call; ``u`` is used in place of ``v`` on the dense side (the ``n / (n + 1)``
    shrinks a tool seen once halfway);
  - *query terms*: the tokens of at most ``max_queries`` of those queries (the latest; a
    token counts once per query), a separate BM25 field over the catalog whose score is
    added to the description's BM25 score with weight ``term_weight`` (so it is bounded
    and down-weighted, and a tool's own description field is never changed).

- :class:`CoUsage` (multi-step): ``P(b | a)`` = the share of the logged queries that
  called ``a`` and also called ``b`` (``count(a, b) / (count(a) + 1)``, at most
  ``MAX_PARTNERS`` partners per tool).  At search time the tools co-used with the top
  ``anchors`` results get ``weight * max_a P(b | a)`` added, capped just below the score of
  position ``protect`` (so the first ``protect`` positions never change: it fills the
  positions after them).

:class:`TrainedModel` bundles the adapter and both; it is what
:meth:`ucp.router.models.AdapterSet.pick` returns and what
:meth:`ucp.router.hybrid.HybridRetriever.search` takes as ``adapter=``.  Keys are tool
keys: on another catalog the tool-side parts do nothing.  Saving is exact (float32
``.npy`` and JSON floats), so a rollback restores a version's rankings bit for bit.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ucp.router.adapter import QueryAdapter
from ucp.router.bm25 import BM25Index, BM25Params
from ucp.router.tokenize import tokenize

Vector = npt.NDArray[np.float32]

# alpha, term weight and co-usage weight: chosen on the toollens stream of `ucp bench train --sweep`
# (its best grid point), reported on metatool; MAX_QUERIES is a size bound (RETRIEVAL.md).
USE_ALPHA = 8.0
TERM_WEIGHT = 2.0
MAX_QUERIES = 50
CO_WEIGHT = 0.2
CO_ANCHORS = 3
CO_PROTECT = 5
MAX_PARTNERS = 20
TERMS_BM25 = BM25Params(k1=1.2, b=0.5, min_idf=0.01)


def _unit(v: npt.NDArray[np.floating[Any]]) -> Vector:
    n = float(np.linalg.norm(v))
    out: Vector = (v / n).astype(np.float32) if n > 0 else np.asarray(v, dtype=np.float32)
    return out


@dataclass
class _Resolved:
    """An expansion aligned to one snapshot of the catalog (cached per snapshot)."""

    docs: tuple[Any, ...]
    use_idx: npt.NDArray[np.int64]
    use_mat: Vector
    terms: BM25Index | None


class ToolExpansion:
    """Per-tool use vectors and logged query terms (see the module docstring)."""

    def __init__(
        self,
        use_keys: Sequence[str] = (),
        use_vectors: npt.ArrayLike | None = None,
        terms: Mapping[str, Mapping[str, int]] | None = None,
        *,
        term_weight: float = TERM_WEIGHT,
        alpha: float = USE_ALPHA,
        max_queries: int = MAX_QUERIES,
    ) -> None:
        self.use_keys = tuple(use_keys)
        mat = (
            np.zeros((0, 0), np.float32) if use_vectors is None else np.asarray(use_vectors, dtype=np.float32)
        )
        if len(self.use_keys) and (mat.ndim != 2 or mat.shape[0] != len(self.use_keys)):
            raise ValueError(f"one use vector per key: {len(self.use_keys)} keys, vectors {mat.shape}")
        self.use_vectors = mat
        self.terms = {k: dict(v) for k, v in (terms or {}).items() if v}
        self.term_weight = float(term_weight)
        self.alpha = float(alpha)
        self.max_queries = int(max_queries)
        self._cache: _Resolved | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(set(self.use_keys) | set(self.terms))

    # ------------------------------------------------------------ learning
    @classmethod
    def learn(
        cls,
        queries: Sequence[str],
        query_vecs: npt.ArrayLike | None,
        positives: Sequence[str],
        tool_vecs: Mapping[str, npt.ArrayLike],
        *,
        alpha: float = USE_ALPHA,
        term_weight: float = TERM_WEIGHT,
        max_queries: int = MAX_QUERIES,
        vectors: bool = True,
        terms: bool = True,
    ) -> ToolExpansion:
        """From (query, its vector, the tool called and succeeded) rows, oldest first.

        ``tool_vecs``: the description vectors of the catalog's tools (a tool without one
        gets no use vector).  ``vectors`` / ``terms`` switch either half off.
        """
        qv = None if query_vecs is None else np.asarray(query_vecs, dtype=np.float32)
        rows: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(positives):
            rows[key].append(i)
        keys: list[str] = []
        mats: list[Vector] = []
        if vectors and qv is not None and alpha > 0:
            for key, idx in rows.items():
                v = tool_vecs.get(key)
                if v is None:
                    continue
                v = np.asarray(v, dtype=np.float32).reshape(-1)
                if v.shape[0] != qv.shape[1] or not float(np.linalg.norm(v)) > 0:
                    continue
                units = qv[idx] / np.maximum(np.linalg.norm(qv[idx], axis=1, keepdims=True), 1e-12)
                c = _unit(units.sum(axis=0))
                n = len(idx)
                keys.append(key)
                mats.append(_unit(v + alpha * n / (n + 1.0) * c))
        bags: dict[str, dict[str, int]] = {}
        if terms and term_weight > 0:
            for key, idx in rows.items():
                seen: list[str] = []
                for i in reversed(idx):  # the latest distinct queries
                    if queries[i] not in seen:
                        seen.append(queries[i])
                    if len(seen) >= max_queries:
                        break
                bag: Counter[str] = Counter()
                for q in seen:
                    bag.update(set(tokenize(q)))
                if bag:
                    bags[key] = dict(bag)
        dim = qv.shape[1] if qv is not None else 0
        mat = np.stack(mats) if mats else np.zeros((0, dim), np.float32)
        return cls(keys, mat, bags, term_weight=term_weight, alpha=alpha, max_queries=max_queries)

    # ------------------------------------------------------------ serving
    def resolve(self, docs: tuple[Any, ...], pos: Mapping[str, int]) -> _Resolved:
        """This expansion aligned to a catalog snapshot (``docs`` with ``.key``; cached per snapshot)."""
        hit = self._cache
        if hit is not None and hit.docs is docs:
            return hit
        with self._lock:
            hit = self._cache
            if hit is not None and hit.docs is docs:
                return hit
            at = [(pos[k], r) for r, k in enumerate(self.use_keys) if k in pos]
            use_idx = np.asarray([i for i, _ in at], dtype=np.int64)
            use_mat = (
                self.use_vectors[[r for _, r in at]]
                if at
                else np.zeros((0, self.use_vectors.shape[1] if self.use_vectors.ndim == 2 else 0), np.float32)
            )
            index = None
            if self.term_weight > 0 and any(d.key in self.terms for d in docs):
                index = BM25Index([self.terms.get(d.key, {}) for d in docs], TERMS_BM25)
            self._cache = _Resolved(docs, use_idx, np.ascontiguousarray(use_mat), index)
            return self._cache

    # ------------------------------------------------------------ storage
    def save(self, folder: Path) -> None:
        np.save(folder / "use_vectors.npy", self.use_vectors, allow_pickle=False)
        payload = {
            "use_keys": list(self.use_keys),
            "terms": self.terms,
            "term_weight": self.term_weight,
            "alpha": self.alpha,
            "max_queries": self.max_queries,
        }
        (folder / "expansion.json").write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ToolExpansion | None:
        meta = folder / "expansion.json"
        if not meta.exists():
            return None
        raw = json.loads(meta.read_text(encoding="utf-8"))
        return cls(
            raw.get("use_keys") or (),
            np.load(folder / "use_vectors.npy", allow_pickle=False),
            raw.get("terms") or {},
            term_weight=float(raw.get("term_weight", TERM_WEIGHT)),
            alpha=float(raw.get("alpha", USE_ALPHA)),
            max_queries=int(raw.get("max_queries", MAX_QUERIES)),
        )


@dataclass
class CoUsage:
    """``partners[a][b] = P(b | a)`` from logged queries that called several tools (module docstring)."""

    partners: dict[str, dict[str, float]] = field(default_factory=dict)
    weight: float = CO_WEIGHT
    anchors: int = CO_ANCHORS
    protect: int = CO_PROTECT

    def __len__(self) -> int:
        return len(self.partners)

    @classmethod
    def learn(
        cls,
        groups: Sequence[Sequence[str]],
        *,
        weight: float = CO_WEIGHT,
        anchors: int = CO_ANCHORS,
        protect: int = CO_PROTECT,
        max_partners: int = MAX_PARTNERS,
    ) -> CoUsage:
        """From the sets of tools called and succeeded for one query (one set per logged query)."""
        single: Counter[str] = Counter()
        pair: dict[str, Counter[str]] = defaultdict(Counter)
        for g in groups:
            tools = sorted(set(g))
            single.update(tools)
            for a in tools:
                for b in tools:
                    if a != b:
                        pair[a][b] += 1
        partners: dict[str, dict[str, float]] = {}
        for a, cs in pair.items():
            best = sorted(cs.items(), key=lambda kv: (-kv[1], kv[0]))[:max_partners]
            partners[a] = {b: c / (single[a] + 1.0) for b, c in best}
        return cls(partners, weight, anchors, protect)

    def boosts(self, anchor_keys: Sequence[str]) -> dict[str, float]:
        """``weight * max_a P(b | a)`` over the given anchors (anchors themselves excluded)."""
        out: dict[str, float] = {}
        anchors = set(anchor_keys)
        for a in anchor_keys:
            for b, p in self.partners.get(a, {}).items():
                if b not in anchors:
                    out[b] = max(out.get(b, 0.0), self.weight * p)
        return out

    def save(self, folder: Path) -> None:
        payload = {
            "partners": self.partners,
            "weight": self.weight,
            "anchors": self.anchors,
            "protect": self.protect,
        }
        (folder / "co_usage.json").write_text(json.dumps(payload, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> CoUsage | None:
        path = folder / "co_usage.json"
        if not path.exists():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        partners = {
            str(a): {str(b): float(p) for b, p in bs.items()} for a, bs in (raw.get("partners") or {}).items()
        }
        return cls(
            partners,
            float(raw.get("weight", CO_WEIGHT)),
            int(raw.get("anchors", CO_ANCHORS)),
            int(raw.get("protect", CO_PROTECT)),
        )


@dataclass
class TrainedModel:
    """One trained version as serving applies it: query adapter, tool expansion, co-usage (each optional)."""

    adapter: QueryAdapter | None = None
    expansion: ToolExpansion | None = None
    co_usage: CoUsage | None = None
    version: str = ""

    def apply(self, q: npt.ArrayLike) -> Vector:
        """The adapted query vector (unchanged without an adapter)."""
        if self.adapter is None:
            return np.asarray(q, dtype=np.float32).reshape(-1)
        return self.adapter.apply(q)

    @property
    def is_identity(self) -> bool:
        return self.adapter is None and not self.expansion and not self.co_usage

    def save(self, folder: Path) -> None:
        if self.adapter is not None:
            self.adapter.save(folder / "adapter.npy")
        if self.expansion is not None:
            self.expansion.save(folder)
        if self.co_usage is not None:
            self.co_usage.save(folder)

    @classmethod
    def load(cls, folder: Path, version: str = "") -> TrainedModel:
        path = folder / "adapter.npy"
        adapter = QueryAdapter.load(path, version) if path.exists() else None
        return cls(adapter, ToolExpansion.load(folder), CoUsage.load(folder), version)


def parts(
    model: QueryAdapter | TrainedModel | None,
) -> tuple[QueryAdapter | None, ToolExpansion | None, CoUsage | None]:
    """(adapter, expansion, co-usage) of what a caller passed as ``adapter=``."""
    if model is None:
        return None, None, None
    if isinstance(model, QueryAdapter):
        return model, None, None
    return model.adapter, model.expansion, model.co_usage
