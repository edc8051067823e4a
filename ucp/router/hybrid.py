"""HybridRetriever: BM25 + dense retrieval over the tool catalog, fused, with caller priors.

Concurrency model.  All state a search reads lives in one immutable ``_Snapshot``
(docs, BM25 index, vector index); writers build a new snapshot and swap the
reference, so ``search`` never locks and never sees half an update.  Writers
(``set_docs``/``upsert``/``remove``/``load_dense``) serialise on locks:

- the BM25 side is rebuilt synchronously on every change (milliseconds to a few
  hundred ms at 10,000 tools; per-tool tokens are cached);
- the dense side is enabled by ``load_dense()`` (blocking: loads the model,
  embeds the catalog through the embedding cache) which the caller runs in a
  worker thread (``await start_dense()`` does that with anyio).  Until then, and
  whenever the embedder fails, searches are served by BM25 and say so
  (``SearchResult.mode``).  Tools added later are embedded by the writer call
  that added them (run it in a worker thread too); until their vectors exist
  their dense similarity counts as 0.

Search never encodes documents; it encodes the query (one short text, LRU-cached)
unless the caller passes ``query_vector``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
import structlog

from ucp.router.adapter import QueryAdapter
from ucp.router.bm25 import BM25Index, BM25Params, top_indices
from ucp.router.documents import ToolDoc
from ucp.router.embed_cache import EmbedCache
from ucp.router.embedder import Embedder, Vectors, embedding_key, embedding_text
from ucp.router.expansion import TrainedModel, parts
from ucp.router.fusion import DEFAULT_FUSION, FusionParams, fuse, fused_z, max_normalise, select_top
from ucp.router.tokenize import DEFAULT_FIELD_WEIGHTS, FieldWeights, doc_tokens, tokenize
from ucp.router.vector_index import APPROX_THRESHOLD, IndexKind, VectorIndex

log = structlog.get_logger(__name__)

Mode = Literal["hybrid", "bm25", "dense"]

# BM25 parameters tuned on the dev splits (rank_bm25's defaults are k1=1.5, b=0.75);
# min_idf keeps matches positive in catalogs of one or two tools (see BM25Params).
TUNED_BM25 = BM25Params(k1=1.2, b=0.5, min_idf=0.01)
# Candidates per retriever when the vector index is approximate (past APPROX_THRESHOLD).
CANDIDATES = 200
EMBED_BATCH = 256


@dataclass(frozen=True, slots=True)
class ScoredTool:
    """One ranked tool with the parts of its score (for explain).

    ``score = fused + prior``; in hybrid mode ``fused`` is the z-score fusion
    ``w * dense_norm + (1 - w) * bm25_norm`` (components are z-scores over the catalog)
    scaled into [0.01, 1]; bm25_norm in BM25 mode, dense_norm in dense mode.  ``z`` is
    the unscaled fused z-score: comparable across queries, the input of
    :func:`ucp.router.calibration.confidence`.
    """

    key: str
    score: float
    fused: float
    bm25: float
    bm25_norm: float
    dense: float | None
    dense_norm: float | None
    prior: float
    z: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "score": self.score,
            "fused": self.fused,
            "bm25": self.bm25,
            "bm25_norm": self.bm25_norm,
            "dense": self.dense,
            "dense_norm": self.dense_norm,
            "prior": self.prior,
            "z": self.z,
        }


@dataclass(frozen=True)
class SearchResult(Sequence[ScoredTool]):
    """Ranked tools (best first) plus how they were ranked; behaves as a sequence of ScoredTool."""

    tools: tuple[ScoredTool, ...]
    mode: Mode
    requested_mode: Mode
    query_vector: Vectors | None = None

    @overload
    def __getitem__(self, i: int) -> ScoredTool: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[ScoredTool]: ...
    def __getitem__(self, i: int | slice) -> ScoredTool | Sequence[ScoredTool]:
        return self.tools[i]

    def __len__(self) -> int:
        return len(self.tools)

    def __iter__(self) -> Iterator[ScoredTool]:
        return iter(self.tools)

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.tools]


@dataclass(frozen=True)
class _Snapshot:
    docs: tuple[ToolDoc, ...]
    pos: Mapping[str, int]
    bm25: BM25Index
    dense: VectorIndex | None
    model_id: str | None


@dataclass(frozen=True)
class _DocEntry:
    """What a rebuild reuses for an unchanged tool: its BM25 bag of tokens and embedding key."""

    doc: ToolDoc
    bag: dict[str, int]
    embed_key: str

    @classmethod
    def of(cls, doc: ToolDoc, weights: FieldWeights) -> _DocEntry:
        bag: dict[str, int] = {}
        for t in doc_tokens(doc, weights):
            bag[t] = bag.get(t, 0) + 1
        return cls(doc, bag, embedding_key(embedding_text(doc)))


def _empty_snapshot() -> _Snapshot:
    return _Snapshot(docs=(), pos={}, bm25=BM25Index([]), dense=None, model_id=None)


class HybridRetriever:
    """Ranks the catalog's ToolDocs for a query (see the module docstring for concurrency)."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        cache: EmbedCache | None = None,
        fusion: FusionParams = DEFAULT_FUSION,
        bm25_params: BM25Params = TUNED_BM25,
        field_weights: FieldWeights = DEFAULT_FIELD_WEIGHTS,
        index_kind: IndexKind = "auto",
        approx_threshold: int = APPROX_THRESHOLD,
        query_cache_size: int = 256,
    ) -> None:
        self.embedder = embedder
        self.cache = cache
        self.fusion = fusion
        self.bm25_params = bm25_params
        self.field_weights = field_weights
        self.index_kind: IndexKind = index_kind
        self.approx_threshold = approx_threshold
        self._snap = _empty_snapshot()
        self._docs: dict[str, ToolDoc] = {}
        self._entries: dict[str, _DocEntry] = {}  # key -> tokens and embedding key of the doc
        self._vectors: dict[str, Vectors] = {}  # embedding_key -> vector (current model)
        self._usage: dict[str, Vectors] = {}  # tool key -> usage-evidence vector (learning layer)
        self._dense_enabled = False
        self.dense_error: str | None = None
        self._write_lock = threading.RLock()  # docs + BM25 + snapshot swaps
        self._dense_lock = threading.Lock()  # embedding work
        self._qcache: OrderedDict[str, Vectors] = OrderedDict()
        self._qcache_size = query_cache_size
        self._qcache_lock = threading.Lock()

    # ---------------------------------------------------------------- state
    @property
    def dense_ready(self) -> bool:
        """True once the dense side serves searches."""
        return self._snap.dense is not None

    @property
    def docs(self) -> Mapping[str, ToolDoc]:
        return {d.key: d for d in self._snap.docs}

    def __len__(self) -> int:
        return len(self._snap.docs)

    def stats(self) -> dict[str, Any]:
        snap = self._snap
        bm25_bytes = snap.bm25.nbytes
        dense_bytes = snap.dense.nbytes if snap.dense is not None else 0
        return {
            "tools": len(snap.docs),
            "dense_ready": snap.dense is not None,
            "index": snap.dense.kind if snap.dense is not None else None,
            "model_id": snap.model_id,
            "bm25_bytes": bm25_bytes,
            "dense_bytes": dense_bytes,
            "dense_error": self.dense_error,
        }

    # ---------------------------------------------------------------- writers
    def set_docs(self, docs: Iterable[ToolDoc], *, embed: bool = True) -> None:
        """Replace the catalog.  With the dense side on and ``embed``, new tools are embedded here."""
        with self._write_lock:
            self._docs = {}
            for d in docs:
                self._docs[d.key] = d
            self._rebuild()
        if embed:
            self.refresh_dense()

    def upsert(self, docs: Iterable[ToolDoc], *, embed: bool = True) -> None:
        """Add or replace tools (by key); unchanged tools keep their tokens and vectors."""
        with self._write_lock:
            for d in docs:
                self._docs[d.key] = d
            self._rebuild()
        if embed:
            self.refresh_dense()

    def remove(self, keys: Iterable[str]) -> None:
        """Remove tools by key (unknown keys are ignored)."""
        with self._write_lock:
            for k in keys:
                self._docs.pop(k, None)
            self._rebuild()

    def _rebuild(self) -> None:
        """Build a new snapshot from ``self._docs`` (BM25 now; dense from known vectors). Under write lock."""
        docs = tuple(self._docs.values())
        entries: dict[str, _DocEntry] = {}
        for d in docs:
            entry = self._entries.get(d.key)
            if entry is None or entry.doc != d:
                entry = _DocEntry.of(d, self.field_weights)
            entries[d.key] = entry
        self._entries = entries
        bm25 = BM25Index([entries[d.key].bag for d in docs], self.bm25_params)
        dense, model_id = self._build_dense(docs) if self._dense_enabled else (None, None)
        self._snap = _Snapshot(
            docs=docs, pos={d.key: i for i, d in enumerate(docs)}, bm25=bm25, dense=dense, model_id=model_id
        )

    def _build_dense(self, docs: Sequence[ToolDoc]) -> tuple[VectorIndex | None, str | None]:
        if self.embedder is None:
            return None, None
        dim = self.embedder.dim
        mat = np.zeros((len(docs), dim), dtype=np.float32)
        for i, d in enumerate(docs):
            v = self._vectors.get(self._entries[d.key].embed_key)
            if v is not None and v.shape == (dim,):
                mat[i] = v
        extra = None
        if self._usage:
            extra = np.full((len(docs), dim), np.nan, dtype=np.float32)
            for i, d in enumerate(docs):
                u = self._usage.get(d.key)
                if u is not None and u.shape == (dim,):
                    extra[i] = u
        index = VectorIndex(mat, kind=self.index_kind, threshold=self.approx_threshold, extra=extra)
        return index, self.embedder.model_id

    def set_usage_vectors(self, vectors: Mapping[str, npt.ArrayLike]) -> None:
        """Per-tool usage evidence (e.g. the unit centroid of queries that led to successful
        calls of that tool), replacing any previous set.  The dense similarity of a tool
        becomes ``max(cos(q, description), cos(q, usage))``: evidence can only add.
        """
        with self._write_lock:
            self._usage = {k: np.asarray(v, dtype=np.float32).reshape(-1) for k, v in vectors.items()}
            snap = self._snap
            if snap.dense is not None:
                dense, model_id = self._build_dense(snap.docs)
                self._snap = replace(snap, dense=dense, model_id=model_id)

    def doc_vectors(self, keys: Sequence[str]) -> npt.NDArray[np.float32]:
        """The description vectors of the given tools (zeros for a tool not embedded yet)."""
        dim = self.embedder.dim if self.embedder is not None else 0
        out = np.zeros((len(keys), dim), dtype=np.float32)
        for i, k in enumerate(keys):
            entry = self._entries.get(k)
            v = self._vectors.get(entry.embed_key) if entry is not None else None
            if v is not None and v.shape == (dim,):
                out[i] = v
        return out

    def load_dense(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """Load the embedder and embed the catalog (blocking: run it in a worker thread).

        Returns True when the dense side is serving; on failure logs, records
        ``dense_error`` and leaves BM25 serving.  ``progress(done, total)`` is
        called while encoding.
        """
        if self.embedder is None:
            return False
        try:
            load = getattr(self.embedder, "load", None)
            if callable(load):
                load()
            _ = self.embedder.dim
        except Exception as exc:
            self.dense_error = f"{type(exc).__name__}: {exc}"
            log.warning("dense_unavailable", error=self.dense_error)
            return False
        self._dense_enabled = True
        return self.refresh_dense(progress)

    async def start_dense(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """``load_dense`` in a worker thread (anyio), so the event loop never waits for torch."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.load_dense, progress)

    def refresh_dense(self, progress: Callable[[int, int], None] | None = None) -> bool:
        """Embed tools that have no vector yet (cache first), then swap in a new vector index."""
        if not self._dense_enabled or self.embedder is None:
            return False
        with self._dense_lock:
            docs = self._snap.docs
            try:
                added = self._embed_missing(docs, progress)
            except Exception as exc:
                self.dense_error = f"{type(exc).__name__}: {exc}"
                log.warning("dense_embed_failed", error=self.dense_error)
                return self.dense_ready
            with self._write_lock:
                snap = self._snap
                if added or snap.dense is None:
                    live = {e.embed_key for e in self._entries.values()}
                    self._vectors = {h: v for h, v in self._vectors.items() if h in live}
                    dense, model_id = self._build_dense(snap.docs)
                    self._snap = replace(snap, dense=dense, model_id=model_id)
        self.dense_error = None
        return True

    def _embed_missing(self, docs: Sequence[ToolDoc], progress: Callable[[int, int], None] | None) -> int:
        """Fill ``_vectors`` for ``docs`` from the cache, then the embedder; returns how many were added."""
        assert self.embedder is not None
        model_id = self.embedder.model_id
        texts: dict[str, str] = {}
        for d in docs:
            entry = self._entries.get(d.key)
            h = entry.embed_key if entry is not None and entry.doc == d else embedding_key(embedding_text(d))
            if h not in self._vectors and h not in texts:
                texts[h] = embedding_text(d)
        wanted = len(texts)
        if not texts:
            return 0
        if self.cache is not None:
            try:
                hits = self.cache.get_many(model_id, texts)
            except Exception as exc:
                log.warning("embed_cache_unavailable", error=f"{type(exc).__name__}: {exc}")
                hits = {}
            dim = self.embedder.dim
            for h, v in hits.items():
                if v.shape == (dim,):
                    self._vectors[h] = v
                    texts.pop(h, None)
        todo = sorted(texts.items(), key=lambda item: len(item[1]))  # similar lengths batch with less padding
        total = len(todo)
        if progress is not None:
            progress(0, total)
        for start in range(0, total, EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            vecs = self.embedder.encode([t for _, t in batch])
            new = {h: vecs[i] for i, (h, _) in enumerate(batch)}
            self._vectors.update(new)
            if self.cache is not None:
                try:
                    self.cache.put_many(model_id, new)
                except Exception as exc:
                    log.warning("embed_cache_unavailable", error=f"{type(exc).__name__}: {exc}")
            if progress is not None:
                progress(min(start + EMBED_BATCH, total), total)
        return wanted

    # ---------------------------------------------------------------- search
    def encode_query(self, query: str) -> Vectors | None:
        """The query's embedding (LRU-cached), or None when the dense side is not serving."""
        if self._snap.dense is None or self.embedder is None:
            return None
        with self._qcache_lock:
            hit = self._qcache.get(query)
            if hit is not None:
                self._qcache.move_to_end(query)
                return hit
        vec = np.asarray(self.embedder.encode([query])[0], dtype=np.float32)
        with self._qcache_lock:
            self._qcache[query] = vec
            while len(self._qcache) > self._qcache_size:
                self._qcache.popitem(last=False)
        return vec

    def clear_query_cache(self) -> None:
        with self._qcache_lock:
            self._qcache.clear()

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        boosts: Mapping[str, float] | None = None,
        allowed: Callable[[str], bool] | None = None,
        mode: Mode = "hybrid",
        query_vector: npt.ArrayLike | None = None,
        dense_floor: Mapping[str, float] | None = None,
        adapter: QueryAdapter | TrainedModel | None = None,
    ) -> SearchResult:
        """The ``k`` best tools for ``query`` (only tools with a positive score).

        ``boosts``: non-negative additive priors per tool key (usage, sequence,
        health), on the fused [0, 1] scale.  ``allowed``: a filter on keys, applied
        before taking the top k.  ``mode``: "bm25"/"dense" serve one retriever
        only; "hybrid" and "dense" fall back to BM25 while the dense side is not
        ready (``result.mode`` says what served).  ``query_vector``: a precomputed
        query embedding (skips encoding); the one used is returned.  ``dense_floor``:
        per-tool lower bounds on the dense similarity (the learning layer's usage
        similarity): a tool's dense score is max(description similarity, floor), so usage
        evidence can only add to what the description says.  ``adapter``: a trained query
        adapter (``ucp train``) applied to the query vector before the dense scores (the
        returned ``query_vector`` is the unadapted one, which usage evidence is kept in), or a
        whole trained version (:class:`ucp.router.expansion.TrainedModel`): its tool
        expansion replaces the description vectors of the tools it learned use vectors for and
        adds its query-term BM25 field (weighted), and its co-usage lifts the tools co-used with
        the top results into the positions after ``protect``.
        """
        snap = self._snap
        n = len(snap.docs)
        served: Mode = mode if snap.dense is not None else "bm25"
        if n == 0 or k <= 0:
            return SearchResult((), served, mode, None)
        prior_ids, prior_vals = self._priors(snap, boosts)
        q_adapter, expansion, co_usage = parts(adapter)
        exp = expansion.resolve(snap.docs, snap.pos) if expansion is not None else None
        tokens = tokenize(query)
        bm25_all = snap.bm25.scores(tokens) if served != "dense" else None
        if bm25_all is not None and exp is not None and exp.terms is not None and expansion is not None:
            bm25_all = bm25_all + expansion.term_weight * exp.terms.scores(tokens)
        qvec: Vectors | None = None
        dense: npt.NDArray[np.float32] | None = None
        cand: npt.NDArray[np.int64] | None = None  # None: every tool is a candidate
        if served != "bm25" and snap.dense is not None:
            if query_vector is not None:
                qvec = np.asarray(query_vector, dtype=np.float32).reshape(-1)
            else:
                qvec = self.encode_query(query)
            assert qvec is not None
            qd = q_adapter.apply(qvec) if q_adapter is not None else qvec
            floor_ids, floor_vals = self._floors(snap, dense_floor)
            use_ids = exp.use_idx if exp is not None and exp.use_mat.shape[1:] == qd.shape else None
            sims = None  # similarities to the trained version's use vectors (rows use_ids)
            if exp is not None and use_ids is not None and len(use_ids):
                sims = snap.dense.dot(exp.use_mat, qd)
            if snap.dense.kind == "flat":
                dense = snap.dense.scores(qd)
            else:
                lists = [snap.dense.search(qd, CANDIDATES)[0], prior_ids, floor_ids]
                if bm25_all is not None:
                    lists.append(top_indices(bm25_all, CANDIDATES))
                if sims is not None and use_ids is not None:
                    lists.append(use_ids[top_indices(sims, CANDIDATES)])
                cand = np.unique(np.concatenate(lists))
                dense = snap.dense.scores(qd, cand)
            if sims is not None and use_ids is not None:  # the use vector replaces the description vector
                dense = dense.copy()
                if cand is None:
                    dense[use_ids] = sims
                else:
                    at_c = np.searchsorted(cand, use_ids)
                    ok = (at_c < len(cand)) & (cand[np.minimum(at_c, len(cand) - 1)] == use_ids)
                    dense[at_c[ok]] = sims[ok]
            if len(floor_ids):
                at = floor_ids if cand is None else np.searchsorted(cand, floor_ids)
                dense = dense.copy()
                dense[at] = np.maximum(dense[at], floor_vals.astype(dense.dtype))
        bm25 = None if bm25_all is None else (bm25_all if cand is None else bm25_all[cand])
        dn: npt.NDArray[np.float64] | None
        if served == "dense":
            assert dense is not None
            fused = dn = max_normalise(dense)
            bn = np.zeros_like(fused)
            bm25 = np.zeros_like(fused)
            zs = fused_z(dense, None)
        else:
            assert bm25 is not None
            fused, bn, dn = fuse(bm25, dense if served == "hybrid" else None, self.fusion)
            zs = fused_z(bm25, dense if served == "hybrid" else None, self.fusion)
            if served == "bm25":
                dense = None
        prior = np.zeros_like(fused)
        if len(prior_ids):
            if cand is None:
                np.add.at(prior, prior_ids, prior_vals)
            else:
                np.add.at(prior, np.searchsorted(cand, prior_ids), prior_vals)
        total = fused + prior

        def key_at(i: int) -> str:
            return snap.docs[i if cand is None else int(cand[i])].key

        use_co = co_usage is not None and co_usage.weight > 0 and len(co_usage) > 0
        picked = select_top(total, max(k, co_usage.protect) if use_co and co_usage else k, key_at, allowed)
        if use_co and co_usage is not None and picked:
            lifted = self._co_boost(snap, cand, total, picked, co_usage, key_at)
            prior = np.where(lifted != total, prior + (lifted - total), prior)  # the lift is a prior
            total = lifted
            picked = select_top(total, k, key_at, allowed)
        picked = picked[:k]
        tools = tuple(
            ScoredTool(
                key=snap.docs[i if cand is None else int(cand[i])].key,
                score=float(total[i]),
                fused=float(fused[i]),
                bm25=float(bm25[i]),
                bm25_norm=float(bn[i]),
                dense=None if dense is None else float(dense[i]),
                dense_norm=None if dn is None else float(dn[i]),
                prior=float(prior[i]),
                z=float(zs[i]),
            )
            for i in picked
        )
        return SearchResult(tools, served, mode, qvec)

    @staticmethod
    def _co_boost(
        snap: _Snapshot,
        cand: npt.NDArray[np.int64] | None,
        total: npt.NDArray[np.float64],
        picked: Sequence[int],
        co: Any,
        key_at: Callable[[int], str],
    ) -> npt.NDArray[np.float64]:
        """``total`` plus the co-usage lift of the tools co-used with the top ``co.anchors``, each
        capped just below the score at position ``co.protect`` (positions up to it never move)."""
        lift = co.boosts([key_at(i) for i in picked[: max(1, co.anchors)]])
        if not lift:
            return total
        out = total.copy()
        # with fewer results than ``protect``, every one of them is protected
        last = min(co.protect, len(picked)) - 1
        cap = float(total[picked[last]]) - 1e-9 if co.protect > 0 else np.inf
        for key, value in lift.items():
            i = snap.pos.get(key)
            if i is None:
                continue
            if cand is not None:
                j = int(np.searchsorted(cand, i))
                if j >= len(cand) or int(cand[j]) != i:
                    continue  # not a candidate of the approximate index: not scored
                i = j
            out[i] = max(float(total[i]), min(float(total[i]) + value, cap))
        return out

    @staticmethod
    def _floors(
        snap: _Snapshot, floors: Mapping[str, float] | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Known keys and finite values of per-tool dense floors (cosines: negatives are fine)."""
        if not floors:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        pairs = [
            (i, float(v)) for k, v in floors.items() if (i := snap.pos.get(k)) is not None and np.isfinite(v)
        ]
        return (
            np.asarray([i for i, _ in pairs], dtype=np.int64),
            np.asarray([v for _, v in pairs], dtype=np.float64),
        )

    @staticmethod
    def _priors(
        snap: _Snapshot, boosts: Mapping[str, float] | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        if not boosts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        ids: list[int] = []
        vals: list[float] = []
        for key, value in boosts.items():
            if not value >= 0.0:  # also rejects NaN
                raise ValueError(f"boost for {key!r} must be a non-negative number, got {value!r}")
            i = snap.pos.get(key)
            if i is not None and value > 0.0:
                ids.append(i)
                vals.append(float(value))
        return np.asarray(ids, dtype=np.int64), np.asarray(vals, dtype=np.float64)
