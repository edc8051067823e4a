"""``ucp bench retrieval``: quality and speed of the router's retrieval, with the serving code.

Quality: Recall@1/5/10 (share of a query's relevant tools found in the top k,
averaged over queries), nDCG@10 (binary relevance) and MRR (first relevant tool
within the top 100, else 0) for BM25 only, dense only and the shipped hybrid —
all through :meth:`HybridRetriever.search`.  Query vectors are computed in
batches (the same vectors single-query encoding gives) and passed to ``search``.
Figures are given on all queries and on the held-out queries (those not used to
tune the router, see :func:`ucp.router.fusion.is_tuning_query`).

Speed: routing latency p50/p99 of ``search(query)`` including query encoding, on
the data set's catalog and, with ``scale``, on a synthetic catalog of ``scale``
tools (the data set's tools replicated under other server names with perturbed
descriptions, so every copy is embedded), with index build time cold (empty
embedding cache) and warm (same cache again) and the process RSS.
"""

from __future__ import annotations

import math
import random
import resource
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ucp.bench.datasets import Query, load_queries, load_tools
from ucp.router.documents import ToolDoc
from ucp.router.embed_cache import EmbedCache
from ucp.router.embedder import Embedder, SentenceTransformerEmbedder, embedding_key
from ucp.router.fusion import is_tuning_query
from ucp.router.hybrid import HybridRetriever, Mode

MODES: tuple[Mode, ...] = ("bm25", "dense", "hybrid")
MRR_DEPTH = 100
LATENCY_QUERIES = 300
Clock = Callable[[], float]


# ------------------------------------------------------------------ metrics
def query_metrics(ranked: Sequence[str], relevant: Sequence[str]) -> dict[str, float]:
    """Recall@1/5/10, nDCG@10 (binary), reciprocal rank (within MRR_DEPTH), all-needed-tools@5/10."""
    rel = set(relevant)
    if not rel:
        raise ValueError("a query needs at least one relevant tool")
    out = {f"recall@{k}": len(rel.intersection(ranked[:k])) / len(rel) for k in (1, 5, 10)}
    dcg = sum(1.0 / math.log2(i + 2) for i, key in enumerate(ranked[:10]) if key in rel)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel), 10)))
    out["ndcg@10"] = dcg / idcg
    out["mrr"] = next((1.0 / (i + 1) for i, key in enumerate(ranked[:MRR_DEPTH]) if key in rel), 0.0)
    for k in (
        5,
        10,
    ):  # all-needed-tools@k: every relevant tool in the top k (a multi-step task needs them all)
        out[f"all@{k}"] = float(rel.issubset(ranked[:k]))
    return out


def mean_metrics(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def percentile_ms(seconds: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {"p50": float(np.percentile(arr, 50)), "p99": float(np.percentile(arr, 99)), "n": float(len(arr))}


def rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def evenly(items: Sequence[Any], n: int | None) -> list[Any]:
    """``n`` items spread evenly over the sequence (all of them if n is None or too large)."""
    if n is None or n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


# ------------------------------------------------------------------ progress
@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int], Callable[[int, int], None]]]:
    """Yields ``task(description, total) -> update(done, total)``; rich bars on stderr when enabled."""
    if not enabled:
        yield lambda _d, _t: lambda _done, _total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bars:  # fmt: skip

        def task(description: str, total: int) -> Callable[[int, int], None]:
            tid = bars.add_task(description, total=total)

            def update(done: int, total_: int) -> None:
                bars.update(tid, completed=done, total=total_)

            return update

        yield task


# ------------------------------------------------------------------ pieces
def build_retriever(
    docs: Sequence[ToolDoc],
    embedder: Embedder,
    cache_dir: Path | None,
    task: Callable[[str, int], Callable[[int, int], None]],
    label: str,
    clock: Clock,
) -> tuple[HybridRetriever, dict[str, float]]:
    """A retriever over ``docs`` with the dense side loaded; timings in seconds."""
    t0 = clock()
    cache = EmbedCache(cache_dir) if cache_dir is not None else None
    retriever = HybridRetriever(embedder, cache=cache)
    retriever.set_docs(docs)
    t_bm25 = clock()
    if not retriever.load_dense(task(f"embedding {label}", len(docs))):
        raise RuntimeError(f"dense retrieval unavailable: {retriever.dense_error}")
    t1 = clock()
    return retriever, {"bm25_build_s": t_bm25 - t0, "build_s": t1 - t0}


def encode_queries(
    embedder: Embedder,
    texts: Sequence[str],
    update: Callable[[int, int], None],
    cache: EmbedCache | None = None,
) -> np.ndarray:
    """Query vectors in batches (sorted by length: less padding), through ``cache`` if given."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    hashes = [embedding_key("query\n" + t) for t in texts]
    hits = cache.get_many(embedder.model_id, hashes) if cache is not None else {}
    todo = [i for i, h in enumerate(hashes) if h not in hits or hits[h].shape != (embedder.dim,)]
    for i, h in enumerate(hashes):
        if h in hits and hits[h].shape == (embedder.dim,):
            out[i] = hits[h]
    order = sorted(todo, key=lambda i: len(texts[i]))
    batch = 512
    update(len(texts) - len(order), len(texts))
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        out[idx] = embedder.encode([texts[i] for i in idx])
        if cache is not None:
            cache.put_many(embedder.model_id, {hashes[i]: out[i] for i in idx})
        update(len(texts) - len(order) + min(start + batch, len(order)), len(texts))
    return out


def quality(
    retriever: HybridRetriever,
    queries: Sequence[Query],
    vectors: np.ndarray,
    update: Callable[[int, int], None],
    origin: Mapping[str, str] | None = None,
) -> dict[str, list[dict[str, float]]]:
    """Per-query metrics for each mode (same ``search`` as serving, with precomputed query vectors).

    ``origin`` (scale corpus): maps each copy to its original tool; rankings are
    collapsed to originals (first copy counts, later copies are dropped).
    """
    rows: dict[str, list[dict[str, float]]] = {m: [] for m in MODES}
    depth = MRR_DEPTH if origin is None else 4 * MRR_DEPTH
    for i, q in enumerate(queries):
        for m in MODES:
            res = retriever.search(q.query, depth, mode=m, query_vector=vectors[i])
            if res.mode != m:
                raise RuntimeError(f"search served {res.mode!r} instead of {m!r}")
            keys = res.keys if origin is None else list(dict.fromkeys(origin[k] for k in res.keys))
            rows[m].append(query_metrics(keys, q.relevant))
        if i % 200 == 0 or i == len(queries) - 1:
            update(i + 1, len(queries))
    return rows


def latency(retriever: HybridRetriever, texts: Sequence[str], clock: Clock, k: int = 10) -> dict[str, float]:
    """p50/p99 of ``search(text, k)`` (hybrid, query encoding included, query cache cold)."""
    for t in texts[:5]:  # warm-up (allocators, first torch call), then a clean cache
        retriever.search(t + " warm-up", k)
    retriever.clear_query_cache()
    samples = []
    for t in texts:
        t0 = clock()
        retriever.search(t, k)
        samples.append(clock() - t0)
    return percentile_ms(samples)


_PERTURB = ("Provides:", "Service:", "Tool that helps:", "API:", "Endpoint:", "Utility:", "Function:")
_SERVER_WORDS = (
    "alpha",
    "nimbus",
    "atlas",
    "vertex",
    "delta",
    "orbit",
    "harbor",
    "summit",
    "pixel",
    "quartz",
)


def scale_corpus(docs: Sequence[ToolDoc], n: int, *, seed: int = 0) -> tuple[list[ToolDoc], dict[str, str]]:
    """``n`` tools: the originals, then copies under new server names with perturbed descriptions.

    Returns the docs and ``copy key -> original key`` (originals map to themselves).
    Copies differ in their description (a prefix, a dropped word, a suffix naming
    the server) so every one is embedded when the index is built cold.
    """
    rng = random.Random(seed)
    out = list(docs[:n])
    origin = {d.key: d.key for d in out}
    replica = 0
    while len(out) < n:
        replica += 1
        for d in docs:
            if len(out) >= n:
                break
            server = f"{d.server or 'srv'}-{_SERVER_WORDS[replica % len(_SERVER_WORDS)]}{replica}"
            words = d.description.split()
            if len(words) > 4:
                del words[rng.randrange(len(words))]
            desc = f"{rng.choice(_PERTURB)} {' '.join(words)} (via {server})"
            key = f"{server}__{d.key}"
            out.append(replace(d, key=key, server=server, description=desc))
            origin[key] = d.key
    return out, origin


# ------------------------------------------------------------------ the benchmark
def run_retrieval_bench(
    tools_path: str | Path,
    queries_path: str | Path,
    *,
    embedder: Embedder | None = None,
    limit: int | None = None,
    scale: int | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    clock: Clock = time.perf_counter,
    latency_queries: int = LATENCY_QUERIES,
) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-able result (see ``render_table`` for the human view).

    ``limit``: use that many queries, spread evenly over the file.  ``scale``: also
    benchmark a synthetic catalog of that many tools (latency, build cold/warm,
    memory); the top-level ``latency_ms`` is then the scale figure.  ``cache_dir``:
    the embedding cache of the data-set run (default: a temporary directory; the
    scale run always starts from an empty temporary one, cold then warm).
    ``latency_queries``: how many distinct queries the latency figures use.
    """
    docs = load_tools(tools_path)
    queries = evenly(load_queries(queries_path, tool_ids={d.key for d in docs}), limit)
    onnx_tmp = tempfile.TemporaryDirectory(prefix="ucp-onnx-")
    onnx_dir = Path(cache_dir) / "onnx" if cache_dir is not None else Path(onnx_tmp.name)
    # as serving does: queries encoded by ONNX Runtime when it can, tools by sentence-transformers
    emb = embedder if embedder is not None else SentenceTransformerEmbedder(onnx_dir=onnx_dir)
    result: dict[str, Any] = {
        "tools": len(docs),
        "queries": len(queries),
        "model_id": emb.model_id,
        "tools_path": str(tools_path),
        "queries_path": str(queries_path),
    }
    with _progress(progress) as task, tempfile.TemporaryDirectory(prefix="ucp-bench-") as tmp:
        cdir = Path(cache_dir) if cache_dir is not None else Path(tmp) / "catalog"
        retriever, build = build_retriever(docs, emb, cdir, task, "tools", clock)
        result["build"] = build
        qcache = EmbedCache(cdir, table="query_embeddings") if cache_dir is not None else None
        vectors = encode_queries(
            emb, [q.query for q in queries], task("encoding queries", len(queries)), qcache
        )
        rows = quality(retriever, queries, vectors, task("searching", len(queries)))
        for m in MODES:
            result[m] = mean_metrics(rows[m])
        held = [i for i, q in enumerate(queries) if not is_tuning_query(q.qid, q.split)]
        result["heldout"] = {"queries": len(held)} | {
            m: mean_metrics([rows[m][i] for i in held]) for m in MODES
        }
        texts = list(dict.fromkeys(q.query for q in evenly(queries, latency_queries * 2)))[:latency_queries]
        result["latency_ms_catalog"] = latency(retriever, texts, clock)
        result["latency_ms"] = result["latency_ms_catalog"]
        result["memory"] = {"rss_mb": rss_mb()} | retriever.stats()
        del retriever
        if scale:
            result["scale"] = _scale(docs, queries, scale, emb, Path(tmp) / "scale", task, clock, texts)
            result["latency_ms"] = result["scale"]["latency_ms"]
    result["query_encoder"] = getattr(emb, "query_backend", type(emb).__name__)
    onnx_tmp.cleanup()
    return result


def _scale(
    docs: Sequence[ToolDoc],
    queries: Sequence[Query],
    n: int,
    emb: Embedder,
    cache_dir: Path,
    task: Callable[[str, int], Callable[[int, int], None]],
    clock: Clock,
    texts: Sequence[str],
) -> dict[str, Any]:
    corpus, origin = scale_corpus(docs, n)
    rss0 = rss_mb()
    cold, cold_t = build_retriever(corpus, emb, cache_dir, task, f"{n} tools (cold)", clock)
    del cold
    warm, warm_t = build_retriever(corpus, emb, cache_dir, task, f"{n} tools (warm)", clock)
    lat = latency(warm, texts, clock)
    sample = evenly(queries, LATENCY_QUERIES)
    vectors = encode_queries(emb, [q.query for q in sample], task("encoding scale queries", len(sample)))
    rows = quality(warm, sample, vectors, task("searching at scale", len(sample)), origin=origin)
    stats = warm.stats()
    return {
        "tools": len(corpus),
        "build_cold_s": cold_t["build_s"],
        "build_warm_s": warm_t["build_s"],
        "bm25_build_s": warm_t["bm25_build_s"],
        "latency_ms": lat,
        "rss_mb": rss_mb(),
        "rss_delta_mb": rss_mb() - rss0,
        "index_mb": (stats["bm25_bytes"] + stats["dense_bytes"]) / 2**20,
        "index": stats["index"],
        # rankings collapsed to original tools: can the right tool still be found among the copies?
        "quality_collapsed": {m: mean_metrics(rows[m]) for m in MODES},
    }


def render_table(result: dict[str, Any]) -> Any:
    """A rich Table of a result (quality per mode, then speed)."""
    from rich.table import Table

    title = f"Retrieval — {result['tools']} tools, {result['queries']} queries ({result['model_id']})"
    table = Table(title=title)
    table.add_column("set")
    table.add_column("retriever")
    for col in ("R@1", "R@5", "R@10", "nDCG@10", "MRR"):
        table.add_column(col, justify="right")
    keys = ("recall@1", "recall@5", "recall@10", "ndcg@10", "mrr")
    held = result.get("heldout", {})
    for label, block in (("all", result), (f"held-out ({held.get('queries', 0)})", held)):
        for m in MODES:
            if block.get(m):
                table.add_row(label, m, *(f"{block[m][k]:.3f}" for k in keys))
    lat = result["latency_ms_catalog"]
    b = result["build"]
    table.caption = (
        f"catalog: latency p50 {lat['p50']:.1f} ms / p99 {lat['p99']:.1f} ms, build {b['build_s']:.1f} s, "
        f"RSS {result['memory']['rss_mb']:.0f} MiB"
    )
    if "scale" in result:
        s = result["scale"]
        table.caption += (
            f"\nscale {s['tools']} tools: latency p50 {s['latency_ms']['p50']:.1f} ms / "
            f"p99 {s['latency_ms']['p99']:.1f} ms, build cold {s['build_cold_s']:.1f} s / "
            f"warm {s['build_warm_s']:.1f} s, index {s['index']} {s['index_mb']:.0f} MiB, RSS {s['rss_mb']:.0f} MiB"
        )
    return table
