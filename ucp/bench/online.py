"""Online learning benchmark: replay a query stream through the real router, surfacing k tools.

A simulated model calls the relevant tools among those shown (the ``noisy`` model misses a
shown relevant tool with probability 0.2 and calls one wrong shown tool with probability
0.1); the router learns only from those calls, through the same ``Router.search`` +
``Learner`` code that serves sessions. Reported: Recall@k over the stream (mean, last 20%),
mean ± sd over seeds (the seed shuffles the stream and drives the simulated model and the
exploration), for

- ``static``: the hybrid router alone (no learning, no priors);
- ``learning``: hybrid + usage evidence + posteriors + exploration, clean model;
- ``learning-noisy``: the same with the noisy model;
- ``drift``: mid-stream a new server arrives with copies of a quarter of the tools whose
  descriptions fit the queries better (each copy's description adds two earlier queries of
  that tool as examples); from then on those queries need the copy and the old tool fails
  (``is_error``). Static and learning are compared on the second half.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mcp_types as types
import numpy as np

from ucp.bench.datasets import Query, load_queries, load_tools
from ucp.config.models import LearningSettings, RouterSettings
from ucp.config.paths import Paths
from ucp.router.base import RankContext, Ranked, Ranking
from ucp.router.catalog import Catalog
from ucp.router.documents import ToolDoc
from ucp.router.hybrid import HybridRetriever
from ucp.router.learner import Learner
from ucp.router.router import Router

K = 5
MISS_P = 0.2
WRONG_P = 0.1


@dataclass(frozen=True)
class Dataset:
    name: str
    docs: list[ToolDoc]
    queries: list[Query]
    vectors: np.ndarray


def build_catalog(docs: Sequence[ToolDoc]) -> tuple[Catalog, dict[str, str]]:
    """A catalog of the data set's tools, one UCP server per data-set server (as a user would
    register them); returns it with the map exposed name -> data-set id."""
    by_server: dict[str, list[tuple[types.Tool, str]]] = {}
    for doc in docs:
        server = doc.server or "tools"
        taken = {t.name for t, _ in by_server.get(server, [])}
        name = doc.name or doc.key
        while name in taken:
            name += " (2)"
        schema = doc.input_schema if doc.input_schema.get("type") == "object" else {"type": "object"}
        by_server.setdefault(server, []).append(
            (types.Tool(name=name, description=doc.description, input_schema=schema), doc.key)
        )
    catalog = Catalog()
    to_id: dict[str, str] = {}
    for server, pairs in by_server.items():
        catalog.set_server_tools(server, [t for t, _ in pairs], tags=[])
        for tool, key in pairs:
            exposed = catalog.names.name_of(server, tool.name)
            assert exposed is not None
            to_id[exposed] = key
    return catalog, to_id


class Simulator:
    """The replay loop: one ranking per query, then the simulated model's calls."""

    def __init__(self, router: Router, to_id: dict[str, str], rng: random.Random, noisy: bool) -> None:
        self.router = router
        self.to_id = to_id
        self.rng = rng
        self.noisy = noisy

    def step(
        self,
        query: Query,
        vector: np.ndarray,
        relevant: set[str],
        failing: frozenset[str] | set[str] = frozenset(),
    ) -> float:
        scored, mode = self.router.search(query.query, limit=K, query_vector=vector)
        catalog = self.router.catalog
        ranked = [
            Ranked(entry=catalog.entries[t.key], score=t.score) for t in scored if t.key in catalog.entries
        ]
        ranking = Ranking(query=query.query, results=tuple(ranked[:K]), mode=mode, ranking_id=query.qid)
        learner = self.router.learner
        if learner is not None:
            ranking = learner.after_rank(
                ranking, ranked, context=RankContext(session_id="bench"), record=True, query_vector=vector
            )
        shown = [r.entry.exposed for r in ranking.results]
        shown_ids = [self.to_id[k] for k in shown]
        hit = sum(1 for t in shown_ids if t in relevant)
        recall = hit / len(relevant) if relevant else 0.0
        if learner is not None:
            calls = [
                k
                for k, t in zip(shown, shown_ids, strict=True)
                if t in relevant and not (self.noisy and self.rng.random() < MISS_P)
            ]
            wrong = [k for k, t in zip(shown, shown_ids, strict=True) if t not in relevant]
            if self.noisy and wrong and self.rng.random() < WRONG_P:
                calls.append(self.rng.choice(wrong))
            for key in calls:
                ok = self.to_id[key] not in failing
                learner.on_call("bench", key, ok, None if ok else "tool_error")
                self.router.record_call(key, None, ok)
        return recall


def make_router(
    catalog: Catalog, retriever: HybridRetriever, *, learning: bool, seed: int, home: Path
) -> Router:
    router = Router(
        catalog,
        settings=RouterSettings(),
        learning=LearningSettings(seed=seed),
        paths=Paths(home),
        dense=False,
        retriever=retriever,
    )
    router.sync_now()
    if learning:
        router.learner = Learner(LearningSettings(seed=seed, exploration=True), None, rng=random.Random(seed))
    return router


def _retriever(docs: Sequence[ToolDoc], embedder: Any, cache_dir: Path | None) -> HybridRetriever:
    from ucp.router.embed_cache import EmbedCache

    retriever = HybridRetriever(embedder, cache=EmbedCache(cache_dir) if cache_dir else None)
    retriever.set_docs(docs, embed=False)
    if not retriever.load_dense():
        raise RuntimeError(f"dense retrieval unavailable: {retriever.dense_error}")
    return retriever


def replay(
    ds: Dataset,
    *,
    variant: str,
    seed: int,
    embedder: Any,
    cache_dir: Path | None,
    home: Path,
    progress: Callable[[int, int], None] | None = None,
) -> list[float]:
    rng = random.Random(seed)
    order = list(range(len(ds.queries)))
    rng.shuffle(order)
    catalog, to_id = build_catalog(ds.docs)
    retriever = _retriever(catalog.docs(), embedder, cache_dir)
    router = make_router(catalog, retriever, learning=variant != "static", seed=seed, home=home)
    sim = Simulator(router, to_id, random.Random(seed + 1000), noisy=variant == "learning-noisy")
    out = []
    for n, i in enumerate(order):
        q = ds.queries[i]
        out.append(sim.step(q, ds.vectors[i], set(q.relevant)))
        if progress and n % 500 == 0:
            progress(n, len(order))
    return out


def replay_drift(
    ds: Dataset,
    *,
    learning: bool,
    seed: int,
    embedder: Any,
    cache_dir: Path | None,
    home: Path,
    share: float = 0.25,
) -> list[float]:
    """Mid-stream, a new server with better-described copies of ``share`` of the tools arrives;
    the originals then fail and the queries need the copies."""
    rng = random.Random(seed)
    order = list(range(len(ds.queries)))
    rng.shuffle(order)
    half = len(order) // 2
    by_tool: dict[str, list[str]] = {}
    for i in order[:half]:
        for t in ds.queries[i].relevant:
            by_tool.setdefault(t, []).append(ds.queries[i].query)
    movable = sorted(t for t, qs in by_tool.items() if len(qs) >= 2)
    moved = set(rng.sample(movable, max(1, int(len(movable) * share))))
    copies = [
        replace(
            d,
            key=f"v2::{d.key}",
            server="v2",
            description=f"{d.description} Examples: {by_tool[d.key][0]} | {by_tool[d.key][1]}",
        )
        for d in ds.docs
        if d.key in moved
    ]
    catalog, to_id = build_catalog(ds.docs)
    after, after_to_id = build_catalog([*ds.docs, *copies])
    retriever = _retriever(after.docs(), embedder, cache_dir)  # embeds the copies once (cached)
    router = make_router(
        catalog, retriever, learning=learning, seed=seed, home=home
    )  # syncs: copies not indexed
    sim = Simulator(router, to_id, random.Random(seed + 1000), noisy=False)
    out = []
    for n, i in enumerate(order):
        q = ds.queries[i]
        if n == half:  # the new server arrives
            for server in after.servers():
                if server == "v2":
                    router.catalog.set_server_tools(
                        server, [e.tool for e in after.entries.values() if e.server == server]
                    )
            sim.to_id = {e.exposed: after_to_id[e.exposed] for e in router.catalog.entries.values()}
            router.sync_now()
        if n >= half:
            relevant = {f"v2::{t}" if t in moved else t for t in q.relevant}
            out.append(sim.step(q, ds.vectors[i], relevant, failing=moved))
        else:
            out.append(sim.step(q, ds.vectors[i], set(q.relevant)))
    return out


def summarise(curves: list[list[float]]) -> dict[str, Any]:
    means = [float(np.mean(c)) for c in curves]
    tails = [float(np.mean(c[int(len(c) * 0.8) :])) for c in curves]
    return {
        "recall_mean": round(statistics.fmean(means), 4),
        "recall_sd": round(statistics.pstdev(means), 4) if len(means) > 1 else 0.0,
        "last20_mean": round(statistics.fmean(tails), 4),
        "last20_sd": round(statistics.pstdev(tails), 4) if len(tails) > 1 else 0.0,
        "seeds": len(curves),
    }


def moving_average(values: Sequence[float], window: int) -> list[float]:
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) < window:
        return [float(arr.mean())] if len(arr) else []
    kernel = np.ones(window) / window
    return [float(x) for x in np.convolve(arr, kernel, mode="valid")]


def load_dataset(
    name: str, tools: Path, queries: Path, embedder: Any, cache_dir: Path | None, limit: int | None = None
) -> Dataset:
    from ucp.bench.retrieval import encode_queries
    from ucp.router.embed_cache import EmbedCache

    docs = load_tools(tools)
    qs = load_queries(queries, tool_ids={d.key for d in docs})
    qs = [q for q in qs if q.relevant]
    if limit:
        qs = qs[:limit]
    vectors = encode_queries(
        embedder,
        [q.query for q in qs],
        lambda done, total: None,
        EmbedCache(cache_dir) if cache_dir else None,
    )
    return Dataset(name, docs, qs, vectors)


def run_online_bench(
    datasets: Sequence[tuple[str, Path, Path]],
    *,
    seeds: int = 5,
    limit: int | None = None,
    drift: bool = True,
    cache_dir: Path | None = None,
    plot: Path | None = None,
    progress: Callable[[str], None] | None = None,
    embedder: Any = None,
) -> dict[str, Any]:
    import tempfile

    if embedder is None:
        from ucp.router.embedder import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
        embedder.load()
    say = progress or (lambda _msg: None)
    result: dict[str, Any] = {"k": K, "seeds": seeds, "datasets": {}}
    curves_for_plot: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="ucp-online-") as tmp:
        home = Path(tmp)
        for name, tools, queries in datasets:
            t0 = time.perf_counter()
            ds = load_dataset(name, tools, queries, embedder, cache_dir, limit)
            entry: dict[str, Any] = {"queries": len(ds.queries), "tools": len(ds.docs)}
            curves_for_plot[name] = {}
            for variant in ("static", "learning", "learning-noisy"):
                curves = []
                for seed in range(seeds):
                    say(f"{name}: {variant}, seed {seed}")
                    curves.append(
                        replay(
                            ds, variant=variant, seed=seed, embedder=embedder, cache_dir=cache_dir, home=home
                        )
                    )
                entry[variant] = summarise(curves)
                curves_for_plot[name][variant] = moving_average(curves[0], max(50, len(ds.queries) // 40))
            if drift:
                for learning in (False, True):
                    label = "drift-learning" if learning else "drift-static"
                    curves = []
                    for seed in range(seeds):
                        say(f"{name}: {label}, seed {seed}")
                        curves.append(
                            replay_drift(
                                ds,
                                learning=learning,
                                seed=seed,
                                embedder=embedder,
                                cache_dir=cache_dir,
                                home=home,
                            )
                        )
                    half = len(curves[0]) // 2
                    second = [c[half:] for c in curves]
                    entry[label] = {
                        **summarise(second),
                        "before": round(float(np.mean([np.mean(c[:half]) for c in curves])), 4),
                    }
                    curves_for_plot[name][label] = moving_average(curves[0], max(50, len(ds.queries) // 40))
            entry["seconds"] = round(time.perf_counter() - t0, 1)
            result["datasets"][name] = entry
    if plot is not None:
        save_plot(curves_for_plot, plot)
        result["plot"] = str(plot)
    return result


def save_plot(curves: dict[str, dict[str, list[float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 4.2), squeeze=False)
    for ax, (name, series) in zip(axes[0], curves.items(), strict=True):
        for label, ys in series.items():
            style = "--" if label.startswith("drift") else "-"
            ax.plot(range(len(ys)), ys, style, label=label, linewidth=1.3)
        ax.set_title(f"{name}: Recall@{K} along the stream (moving average, seed 0)")
        ax.set_xlabel("queries seen")
        ax.set_ylabel(f"Recall@{K}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
