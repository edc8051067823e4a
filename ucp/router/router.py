"""③ The router: keeps the hybrid index in step with the catalog and ranks tools for a session.

- The catalog's changes are applied to the ``HybridRetriever`` on a background task
  (debounced, in a worker thread: BM25 rebuilds and embedding are CPU work).
- Cold start: BM25 serves at once; the embedding model is loaded and the catalog
  embedded in the background (through the LanceDB cache), then dense retrieval
  joins. ``dense_ready`` is an event callers can wait on.
- ``rank`` runs the search on a worker thread (query encoding never blocks the protocol
  loop), filters out tools of unhealthy servers, adds the priors (usage, what follows
  the last-called tool, the session's recent calls) and blends in the session context.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from ucp.config.models import LearningSettings, RouterSettings
from ucp.config.paths import Paths
from ucp.log import get_logger
from ucp.router.base import RankContext, Ranked, Ranking
from ucp.router.catalog import Catalog, CatalogChange, CatalogEntry
from ucp.router.priors import Priors

if TYPE_CHECKING:  # numpy, scipy and faiss load on first use: off the cold-start path
    from ucp.router.hybrid import HybridRetriever, ScoredTool
    from ucp.router.learner import Learner

log = get_logger("ucp.router")

TAIL_CUT = 0.5  # with a good match, other servers' results below this share of the best confidence are cut
TIMING_WINDOW = 512
SESSION_VECTORS = 6  # recent query vectors per session that stand for its context (no second encode)
MAX_SESSIONS = 1024
CONTEXT_WEIGHT = 0.15  # share of the session-context search blended into a query's scores
SYNC_DEBOUNCE = 0.05
ENCODER_THREADS_ENV = "UCP_ENCODER_THREADS"  # set by `ucp serve --workers N` for its workers (cores / N)
FIRST_SYNC_DELAY = 1.0  # the first background index build waits: the host's first tools/list comes first


def encoder_threads(settings: RouterSettings, env: Mapping[str, str]) -> int | None:
    """The encoder's thread count: the setting, else what ``ucp serve --workers`` gave this worker."""
    if settings.encoder_threads:
        return settings.encoder_threads
    raw = env.get(ENCODER_THREADS_ENV, "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 64 else None


def make_retriever(settings: RouterSettings, paths: Paths, *, dense: bool) -> HybridRetriever:
    """The hybrid index as ``ucp serve`` runs it: the configured model (queries through the ONNX
    encoder cached in the index dir), embeddings cached in SQLite. ``ucp index`` builds the same."""
    from ucp.router.hybrid import HybridRetriever

    if not dense:
        return HybridRetriever(None)
    from ucp.router.embed_cache import EmbedCache
    from ucp.router.embedder import SentenceTransformerEmbedder

    threads = encoder_threads(settings, os.environ)
    embedder = SentenceTransformerEmbedder(
        settings.embedding_model, onnx_dir=paths.index_dir / "onnx", num_threads=threads
    )
    return HybridRetriever(embedder, cache=EmbedCache(paths.index_dir))


class Router:
    def __init__(
        self,
        catalog: Catalog,
        *,
        settings: RouterSettings,
        learning: LearningSettings,
        paths: Paths,
        dense: bool = True,
        retriever: HybridRetriever | None = None,
        learner_factory: Callable[[], Learner] | None = None,
        tenant_learner_factory: Callable[[str], Learner] | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.learning_settings = learning
        self.paths = paths
        self.dense_enabled = dense
        self._retriever = retriever
        self._learner: Learner | None = None
        self._learner_factory = learner_factory
        self._tenant_learner_factory = tenant_learner_factory
        self.tenant_learners: dict[str, Learner] = {}  # named tenants' own learning state, opened on use
        self._init_lock = threading.Lock()
        self.priors = Priors()
        self.dense_ready_event = anyio.Event()
        self._dirty = anyio.Event()
        self._synced_version = -1
        self._sync_lock = threading.Lock()
        self._last_qvec = threading.local()
        self._session_vecs: OrderedDict[str, deque[Any]] = OrderedDict()  # session -> recent query vectors
        self._session_lock = threading.Lock()
        self.timings: deque[dict[str, float]] = deque(maxlen=TIMING_WINDOW)  # per search, seconds by phase
        from ucp.router.models import AdapterSet, ModelRegistry

        self.adapters = AdapterSet(ModelRegistry(paths.home / "models"))

    @property
    def retriever(self) -> HybridRetriever:
        """The hybrid index, built on first use (importing numpy, scipy and faiss)."""
        if self._retriever is None:
            with self._init_lock:
                if self._retriever is None:
                    self._retriever = make_retriever(self.settings, self.paths, dense=self.dense_enabled)
        return self._retriever

    @property
    def learner(self) -> Learner | None:
        """The learning layer (when enabled), opened on first use."""
        if self._learner is None and self._learner_factory is not None:
            with self._init_lock:
                if self._learner is None and self._learner_factory is not None:
                    self._learner = self._learner_factory()
        return self._learner

    @learner.setter
    def learner(self, value: Learner | None) -> None:
        self._learner = value
        self._learner_factory = None

    def learner_for(self, tenant: str, *, open_it: bool = True) -> Learner | None:
        """The learner of ``tenant`` ("": the default one); a named tenant's is its own, opened on first
        use (``open_it``), so its feedback never moves another tenant's rankings."""
        if not tenant:
            return self.learner if open_it else self._learner
        learner = self.tenant_learners.get(tenant)
        if learner is None and open_it and self._tenant_learner_factory is not None:
            with self._init_lock:
                learner = self.tenant_learners.get(tenant)
                if learner is None:
                    learner = self.tenant_learners[tenant] = self._tenant_learner_factory(tenant)
        return learner

    @property
    def learner_loaded(self) -> Learner | None:
        """The learner if it was opened (never opens it)."""
        return self._learner

    @property
    def dense_ready(self) -> bool:
        return self._retriever is not None and self._retriever.dense_ready

    # ------------------------------------------------------------ lifecycle
    def start(self, tg: TaskGroup) -> None:
        self._dirty.set()
        tg.start_soon(self._sync_loop)
        if self.dense_enabled:
            tg.start_soon(self._warm_dense)

    def close(self) -> None:
        return None

    async def _warm_dense(self) -> None:
        await anyio.sleep(FIRST_SYNC_DELAY)
        started = time.perf_counter()
        ok = await self.retriever.start_dense()
        if ok:
            self.dense_ready_event.set()
            log.info(
                "dense_ready",
                tools=len(self.retriever),
                seconds=round(time.perf_counter() - started, 2),
                model=self.retriever.stats().get("model_id"),
            )
        else:
            log.warning("dense_unavailable", error=self.retriever.dense_error, serving="bm25")

    def on_catalog_change(self, change: CatalogChange) -> None:
        if change.added or change.removed or change.changed:
            self._dirty.set()

    def sync_now(self) -> None:
        """Bring the index in line with the catalog (blocking: BM25 rebuild, maybe embedding)."""
        with self._sync_lock:
            if self._synced_version == self.catalog.version:
                return
            self._sync()

    def _sync(self) -> None:
        version = self.catalog.version
        docs = self.catalog.docs()
        current = self.retriever.docs
        wanted = {d.key: d for d in docs}
        gone = [k for k in current if k not in wanted]
        changed = [d for k, d in wanted.items() if current.get(k) != d]
        if gone:
            self.retriever.remove(gone)
        if changed:
            self.retriever.upsert(changed)
        self._synced_version = version

    async def _sync_loop(self) -> None:
        await anyio.sleep(FIRST_SYNC_DELAY)  # a search before then builds the index itself
        while True:
            await self._dirty.wait()
            await anyio.sleep(SYNC_DEBOUNCE)
            self._dirty = anyio.Event()
            try:
                await anyio.to_thread.run_sync(self.sync_now)
            except Exception:
                log.exception("router_sync_failed")

    async def wait_synced(self) -> None:
        """Wait until the index reflects the current catalog (tests, CLI)."""
        while self._synced_version != self.catalog.version:
            await anyio.to_thread.run_sync(self.sync_now)

    # ------------------------------------------------------------ ranking
    def _allowed(self, server: str | None) -> Any:
        catalog = self.catalog

        def allowed(key: str) -> bool:
            entry = catalog.entries.get(key)
            if entry is None or not catalog.healthy.get(entry.server, False):
                return False
            return server is None or entry.server == server

        return allowed

    def boosts(self, context: RankContext | None) -> dict[str, float]:
        if context is None:
            return self.priors.boosts()
        return self.priors.boosts(context.last_called, context.recent_calls)

    def search(
        self,
        query: str,
        *,
        limit: int,
        server: str | None = None,
        context: RankContext | None = None,
        query_vector: Any = None,
    ) -> tuple[list[ScoredTool], str]:
        """Blocking search (run on a worker thread): retrieval + priors + session context."""
        t0 = time.perf_counter()
        if self._synced_version != self.catalog.version:
            self.sync_now()  # a search never sees a stale catalog
        allowed = self._allowed(server)
        boosts = self.boosts(context)
        pool = max(limit * 3, 15)
        qvec = query_vector
        if qvec is None and self.retriever.dense_ready:
            qvec = self.retriever.encode_query(query)
        t1 = time.perf_counter()
        # a worker thread: a named tenant's learner is only read here (opened on the loop)
        learner = self.learner_for(
            context.tenant if context else "", open_it=not (context and context.tenant)
        )
        floor = learner.usage_floor(qvec) if learner is not None else None
        adapter, arm = self.adapters.pick(context.session_id if context else "")
        result = self.retriever.search(
            query,
            pool,
            boosts=boosts or None,
            allowed=allowed,
            query_vector=qvec,
            dense_floor=floor or None,
            adapter=adapter,
        )
        self._last_qvec.value = result.query_vector
        self._last_qvec.arm = arm
        scored = list(result)
        t2 = time.perf_counter()
        ctx_text = (context.context if context else "").strip()
        session = context.session_id if context else ""
        if ctx_text and ctx_text != query and scored:
            # the context's dense side is the mean of the session's recent query vectors (already
            # encoded): encoding the long context text again cost more than the query itself
            ctx_vec = self._context_vector(session) if result.mode != "bm25" else None
            ctx = self.retriever.search(
                ctx_text, pool, allowed=allowed, adapter=adapter, query_vector=ctx_vec,
                mode="hybrid" if ctx_vec is not None or result.mode == "bm25" else "bm25",
            )  # fmt: skip
            ctx_scores = {t.key: t.fused for t in ctx}
            scored = sorted(
                (_with_score(t, t.score + CONTEXT_WEIGHT * ctx_scores.get(t.key, 0.0)) for t in scored),
                key=lambda t: -t.score,
            )
        if session and result.query_vector is not None:
            self._remember(session, result.query_vector)
        t3 = time.perf_counter()
        self.timings.append({"encode": t1 - t0, "search": t2 - t1, "context": t3 - t2, "total": t3 - t0})
        return scored, result.mode

    def _remember(self, session: str, vec: Any) -> None:
        with self._session_lock:
            q = self._session_vecs.get(session)
            if q is None:
                q = self._session_vecs[session] = deque(maxlen=SESSION_VECTORS)
                while len(self._session_vecs) > MAX_SESSIONS:
                    self._session_vecs.popitem(last=False)
            self._session_vecs.move_to_end(session)
            q.append(vec)

    def _context_vector(self, session: str) -> Any:
        """Unit mean of the session's recent query vectors, or None when there are none."""
        import numpy as np

        with self._session_lock:
            vecs = list(self._session_vecs.get(session, ()))
        if not vecs:
            return None
        m = np.mean(np.stack(vecs), axis=0)
        n = float(np.linalg.norm(m))
        return m / n if n > 0 else None

    def timing_summary(self) -> dict[str, float]:
        """p50 of each phase of the recent searches, in ms (``ucp serve`` logs it; the bench reads it)."""
        import numpy as np

        rows = list(self.timings)
        if not rows:
            return {}
        return {k: float(np.percentile([r[k] for r in rows], 50)) * 1000 for k in rows[0]} | {
            "n": float(len(rows))
        }

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
    ) -> Ranking:
        return await self.rank_with(
            query, limit=limit, server=server, context=context, record=record, visible=visible, keep=keep
        )

    async def rank_with(
        self,
        query: str,
        *,
        limit: int,
        server: str | None = None,
        context: RankContext | None = None,
        record: bool = True,
        source: str = "search",
        visible: Callable[[CatalogEntry], bool] | None = None,
        keep: int | None = None,
    ) -> Ranking:
        def work() -> tuple[list[ScoredTool], str, Any, str]:
            scored, mode = self.search(query, limit=limit, server=server, context=context)
            return scored, mode, getattr(self._last_qvec, "value", None), getattr(self._last_qvec, "arm", "")

        scored, mode, qvec, arm = await anyio.to_thread.run_sync(work)
        from ucp.router.calibration import confidence, match_level

        n = len(self.retriever)
        ranked = [
            Ranked(
                entry=e,
                score=t.score,
                components=_components(t),
                confidence=confidence(t.z, t.dense if mode != "bm25" else None, n),
            )
            for t in scored
            if (e := self.catalog.entries.get(t.key)) is not None and (visible is None or visible(e))
        ]
        limit = keep if keep is not None else limit
        top = max((r.confidence or 0.0 for r in ranked), default=None)
        match = match_level(top)
        if match == "good" and top is not None and ranked:
            # other servers' weak tools do not crowd a clear answer; the best server's tools stay
            # (learning can only lift a tool that is shown)
            lead = ranked[0].entry.server
            ranked = [r for r in ranked if r.entry.server == lead or (r.confidence or 0.0) >= TAIL_CUT * top]
        servers = tuple(sorted(s for s, ok in self.catalog.healthy.items() if ok))
        ranking = Ranking(
            query=query,
            results=tuple(ranked[:limit]),
            mode=mode,
            ranking_id=uuid.uuid4().hex,
            match=match,
            servers=servers,
            arm=arm,
        )
        learner = self.learner_for(context.tenant if context else "")
        if learner is not None:
            ranking = learner.after_rank(
                ranking, ranked, context=context, record=record, source=source, query_vector=qvec
            )
        return ranking

    async def explain(
        self, query: str, *, limit: int = 10, server: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        scored, mode = await anyio.to_thread.run_sync(lambda: self.search(query, limit=limit, server=server))
        rows = []
        for t in scored[:limit]:
            rows.append({"name": t.key, **{k: v for k, v in t.as_dict().items() if k != "key"}})
        return rows, mode

    def record_call(self, tool: str, previous: str | None, ok: bool) -> None:
        self.priors.record_call(tool, previous, ok)


def _components(t: ScoredTool) -> dict[str, float]:
    out = {"bm25": t.bm25, "bm25_norm": t.bm25_norm, "fused": t.fused, "prior": t.prior}
    if t.dense is not None:
        out["dense"] = t.dense
    if t.dense_norm is not None:
        out["dense_norm"] = t.dense_norm
    return out


def _with_score(t: ScoredTool, score: float) -> ScoredTool:
    from dataclasses import replace

    return replace(t, score=score)
