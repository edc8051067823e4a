"""Learning from use: feedback events -> posteriors, usage evidence and exploration.

The learner sits after retrieval. For every ranking shown (meta-tool search, dynamic
working-set update, REST search) it:

1. nudges scores by each tool's Beta posterior (ignored/failing tools sink, tools that
   get used rise), weighted by how much evidence there is;
2. reserves ``explore_share`` of the slots for Thompson sampling among the candidates just
   below the cut (``ucp.router.bandit``), so new and rarely seen tools get a chance;
3. remembers the ranking as the session's open ranking.

When the session then calls a tool of that ranking, the call is the feedback: the tool's
posterior gets the outcome, and a successful call adds the query's embedding to the tool's
usage evidence (``ucp.router.usage``), which the retriever max-combines with description
similarity. When the next ranking of the session arrives (or the open ranking expires),
the shown tools that were not called get their position-corrected negative evidence.
Statistics persist in the feedback store and survive restarts.

Shared (``[state] backend = "redis"``, ``shared=True``): every change to a tool's statistics is
also journaled as an increment (``ucp.state.learning.LearningJournal``) that ``LearnerSync``
pushes to Redis, and the statistics other replicas pushed are applied back with ``apply_shared``
(the shared counts plus this replica's increments not yet pushed). The feedback store then keeps
only the events (rankings, outcomes); the statistics live in Redis.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ucp.config.models import LearningSettings
from ucp.log import get_logger
from ucp.router.bandit import (
    PRIOR_ALPHA,
    PRIOR_BETA,
    Candidate,
    Posterior,
    choose,
    examination,
    explore_slots,
)
from ucp.router.base import RankContext, Ranked, Ranking
from ucp.router.feedback import FeedbackEvents, ToolRow
from ucp.router.usage import UsageMemory
from ucp.state.learning import LearningJournal, SharedTool, UsageOp

log = get_logger("ucp.learning")

POSTERIOR_WEIGHT = 0.15  # largest score shift from the posterior, on the fused [0, 1] scale
EVIDENCE_HALF = 5.0  # evidence at which the posterior gets half its weight
OPEN_TTL = 600.0  # seconds a ranking stays open to attribute calls


@dataclass
class ToolState:
    posterior: Posterior = field(default_factory=Posterior)
    shown: int = 0
    called: int = 0
    succeeded: int = 0
    failed: int = 0
    explored: int = 0


@dataclass
class OpenRanking:
    id: str
    session: str
    ts: float
    shown: list[str]
    explored: set[str]
    query_vector: Any
    called: set[str] = field(default_factory=set)


class Learner:
    def __init__(
        self,
        settings: LearningSettings,
        store: FeedbackEvents | None = None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        shared: bool = False,
        journal_max: int = 50_000,
    ) -> None:
        self.settings = settings
        self.shared = shared
        self.journal = LearningJournal(journal_max)
        self.store = store
        self.rng = rng or random.Random(settings.seed)
        self.clock = clock
        self.tools: dict[str, ToolState] = {}
        self.usage = UsageMemory()
        self.open: dict[str, OpenRanking] = {}
        self._dirty: set[str] = set()
        self._docs_saved: dict[str, Any] = {}  # tool -> ToolDoc last written to the store's tool_docs
        if store is not None:
            self.load()

    # ------------------------------------------------------------ ranking
    def state(self, key: str) -> ToolState:
        st = self.tools.get(key)
        if st is None:
            st = self.tools[key] = ToolState()
        return st

    def posterior_shift(self, key: str, center: float) -> float:
        """Score shift from the tool's posterior relative to ``center`` (the candidates' typical
        posterior), compared in log-odds: tools used more than their neighbours rise, ignored
        or failing ones sink; bounded by ``POSTERIOR_WEIGHT`` and scaled by the evidence."""
        st = self.tools.get(key)
        if st is None:
            return 0.0
        p = st.posterior
        confidence = p.evidence / (p.evidence + EVIDENCE_HALF)
        return POSTERIOR_WEIGHT * confidence * math.tanh((_logit(p.mean) - _logit(center)) / 2)

    def _center(self, keys: Sequence[str]) -> float:
        """The median posterior mean of the candidates that have evidence (robust to one star)."""
        means = sorted(
            st.posterior.mean for key in keys if (st := self.tools.get(key)) and st.posterior.evidence > 0
        )
        if not means:
            return PRIOR_ALPHA / (PRIOR_ALPHA + PRIOR_BETA)
        mid = len(means) // 2
        return means[mid] if len(means) % 2 else (means[mid - 1] + means[mid]) / 2

    def arrange(self, ranked: Sequence[Ranked], limit: int) -> tuple[list[Ranked], set[str]]:
        """Posterior-adjusted order of ``ranked`` and the top ``limit`` with exploration slots."""
        center = self._center([r.entry.exposed for r in ranked])
        adjusted = sorted(
            (replace(r, score=r.score + self.posterior_shift(r.entry.exposed, center)) for r in ranked),
            key=lambda r: -r.score,
        )
        n_explore = explore_slots(limit, self.settings.explore_share) if self.settings.exploration else 0
        if n_explore == 0:
            return adjusted[:limit], set()
        candidates = [
            Candidate(r.entry.exposed, r.score, self.state(r.entry.exposed).posterior) for r in adjusted
        ]
        keys, explored = choose(candidates, limit, n_explore, self.rng)
        by_key = {r.entry.exposed: r for r in adjusted}
        return [replace(by_key[k], explored=k in explored) for k in keys], explored

    def after_rank(
        self,
        ranking: Ranking,
        ranked_all: Sequence[Ranked],
        *,
        context: RankContext | None,
        record: bool,
        source: str = "search",
        query_vector: Any = None,
    ) -> Ranking:
        limit = len(ranking.results)
        if not self.settings.enabled or limit == 0:
            return ranking
        shown, explored = self.arrange(ranked_all, limit)
        result = replace(ranking, results=tuple(shown))
        if record:
            self.record_ranking(
                result,
                session=context.session_id if context else "",
                source=source,
                query_vector=query_vector,
                explored=explored,
            )
        return result

    # ------------------------------------------------------------ feedback
    def record_ranking(
        self, ranking: Ranking, *, session: str, source: str, query_vector: Any, explored: set[str]
    ) -> None:
        now = self.clock()
        previous = self.open.pop(session, None)
        if previous is not None:
            self._finalize(previous)
        shown = [r.entry.exposed for r in ranking.results]
        for key in shown:
            self._bump(key, shown=1, explored=1 if key in explored else 0)
        self.open[session] = OpenRanking(ranking.ranking_id, session, now, shown, explored, query_vector)
        if self.store is not None:
            self.store.add_ranking(
                ranking.ranking_id,
                ts=now,
                session=session,
                source=source,
                query=ranking.query,
                shown=[(k, i + 1, k in explored) for i, k in enumerate(shown)],
                mode=ranking.mode,
                arm=ranking.arm,
            )
            new_docs = [
                r.entry.doc for r in ranking.results if self._docs_saved.get(r.entry.exposed) != r.entry.doc
            ]
            if new_docs:
                self.store.add_tool_docs(new_docs, now)
                self._docs_saved.update((d.key, d) for d in new_docs)
        self._expire(now)

    def on_call(self, session: str, tool: str, ok: bool, error: str | None = None) -> bool:
        """A call in a session; returns True if it was attributed to the session's open ranking."""
        if not self.settings.enabled:
            return False
        opened = self.open.get(session)
        if opened is None or tool not in opened.shown or self.clock() - opened.ts > OPEN_TTL:
            return False
        rank = opened.shown.index(tool) + 1
        first_hit = not opened.called
        first_call = tool not in opened.called
        opened.called.add(tool)
        before = self.state(tool).posterior
        after = Posterior(before.alpha, before.beta)
        after.called(ok)
        self._bump(
            tool,
            called=1 if first_call else 0,
            succeeded=1 if ok else 0,
            failed=0 if ok else 1,
            alpha=after.alpha - before.alpha,
            beta=after.beta - before.beta,
        )
        if ok:
            if opened.query_vector is not None:
                self.usage.add(tool, opened.query_vector)
                if self.shared:
                    unit = _unit(opened.query_vector)
                    if unit is not None:
                        self.journal.add_usage(UsageOp(tool, "add", 1.0, unit))
        else:
            self.usage.penalize(tool)
            if self.shared:
                self.journal.add_usage(UsageOp(tool, "penalize", 0.5))
        if self.store is not None:
            self.store.add_outcome(
                opened.id, ts=self.clock(), tool=tool, rank=rank, ok=ok, error=error, first_hit=first_hit
            )
        return True

    def _finalize(self, opened: OpenRanking) -> None:
        for rank, key in enumerate(opened.shown, 1):
            if key not in opened.called:
                self._bump(key, beta=examination(rank))

    def _expire(self, now: float) -> None:
        for session, opened in list(self.open.items()):
            if now - opened.ts > OPEN_TTL:
                self._finalize(opened)
                del self.open[session]

    def _bump(self, key: str, **amounts: float) -> None:
        """Add ``amounts`` to a tool's statistics (``alpha``/``beta`` to its posterior), journaling them
        for the shared store when shared."""
        st = self.state(key)
        st.posterior.alpha += amounts.get("alpha", 0.0)
        st.posterior.beta += amounts.get("beta", 0.0)
        st.shown += int(amounts.get("shown", 0))
        st.called += int(amounts.get("called", 0))
        st.succeeded += int(amounts.get("succeeded", 0))
        st.failed += int(amounts.get("failed", 0))
        st.explored += int(amounts.get("explored", 0))
        self._dirty.add(key)
        if self.shared:
            self.journal.bump(key, **amounts)

    def apply_shared(self, tools: dict[str, SharedTool], names: Sequence[str] | None = None) -> None:
        """Take the shared statistics of ``names`` (default: those in ``tools``; a name without shared
        counts has none: e.g. after a reset) plus this replica's increments not pushed yet."""
        for key in tools if names is None else names:
            shared = tools.get(key, SharedTool())
            pending = self.journal.deltas.get(key, {})

            def total(name: str, shared: SharedTool = shared, pending: dict[str, float] = pending) -> float:
                return shared.counts.get(name, 0.0) + pending.get(name, 0.0)

            if not shared.counts and not pending and shared.usage_sum is None:
                self.tools.pop(key, None)
                self.usage.forget(key)
                continue
            self.tools[key] = ToolState(
                Posterior(PRIOR_ALPHA + total("alpha"), PRIOR_BETA + total("beta")),
                round(total("shown")),
                round(total("called")),
                round(total("succeeded")),
                round(total("failed")),
                round(total("explored")),
            )
            if shared.usage_sum is not None:
                self.usage.forget(key)
                self.usage.load({key: (shared.usage_sum, shared.usage_count)})

    def usage_floor(self, query_vector: Any) -> dict[str, float]:
        if query_vector is None or not self.settings.enabled or len(self.usage) == 0:
            return {}
        return self.usage.similarities(query_vector)

    # ------------------------------------------------------------ persistence
    def save(self) -> int:
        if self.store is None:
            return 0
        if self.shared:  # the statistics live in the shared store; the events are this store's
            self._dirty.clear()
            return self.store.flush()
        usage = self.usage.export()
        rows = []
        now = self.clock()
        for key in self._dirty:
            st = self.tools.get(key)
            if st is None:
                continue
            blob, count = usage.get(key, (None, 0.0))
            rows.append(
                ToolRow(
                    key,
                    st.posterior.alpha,
                    st.posterior.beta,
                    st.shown,
                    st.called,
                    st.succeeded,
                    st.failed,
                    st.explored,
                    blob,
                    count,
                    now,
                )
            )
        self._dirty.clear()
        self.store.save_tools(rows)
        return self.store.flush()

    def load(self) -> None:
        assert self.store is not None
        if self.shared:  # read from the shared store by LearnerSync
            return
        usage: dict[str, tuple[bytes, float]] = {}
        for row in self.store.load_tools():
            self.tools[row.tool] = ToolState(
                Posterior(row.alpha, row.beta), row.shown, row.called, row.succeeded, row.failed, row.explored
            )
            if row.usage_sum:
                usage[row.tool] = (row.usage_sum, row.usage_count)
        self.usage.load(usage)

    def finalize_open(self) -> None:
        """Give every open ranking's uncalled tools their negative evidence (at shutdown)."""
        for opened in list(self.open.values()):
            self._finalize(opened)
        self.open.clear()

    def close(self) -> None:
        self.finalize_open()
        self.save()
        if self.store is not None:
            self.store.close()

    def reset(self) -> None:
        """Forget everything learned (the shared counts are reset by ``LearnerSync.reset``)."""
        self.journal.take()
        self.tools.clear()
        self.usage.clear()
        self.open.clear()
        self._dirty.clear()
        if self.store is not None:
            self.store.reset()

    # ------------------------------------------------------------ reporting
    def stats(self) -> list[dict[str, Any]]:
        out = []
        for key, st in sorted(self.tools.items()):
            p = st.posterior
            out.append(
                {
                    "tool": key,
                    "shown": st.shown,
                    "called": st.called,
                    "succeeded": st.succeeded,
                    "failed": st.failed,
                    "explored": st.explored,
                    "alpha": round(p.alpha, 3),
                    "beta": round(p.beta, 3),
                    "posterior_mean": round(p.mean, 4),
                    "usage_queries": round(self.usage.count(key), 2),
                }
            )
        return out


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _unit(value: Any) -> bytes | None:
    """The unit float32 vector of ``value`` as bytes (what the shared usage sums add), or None."""
    v = np.asarray(value, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if norm == 0.0 or not np.isfinite(norm):
        return None
    return (v / norm).astype(np.float32).tobytes()


def as_vector(value: Any) -> Any:
    return None if value is None else np.asarray(value, dtype=np.float32)
