"""``ucp bench train``: what ``ucp train`` gains, on a stream's later half and on another data set.

A data set's queries, shuffled (seed), are the stream of what users asked; each
query's relevant tools are the calls that succeeded and the static router's other
top-5 tools are the shown-and-ignored hard negatives (what the learning store
would hold).  Reported, Recall@5 / all-needed@5 through the serving hybrid search:

- ``halves``: train on the first half of a stream, test on the second half,
  untrained vs trained (the target: +0.10 R@5);
- ``cross``: train on one set's whole stream, test on the other set's second half
  (an adapter learned on one catalog applied to an unrelated one: should not hurt).

CPU seconds of training are reported next to the gain (the "per CPU minute" figure).
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ucp.bench.cross import Prepared, prepare
from ucp.bench.retrieval import _progress, mean_metrics, query_metrics
from ucp.router.adapter import QueryAdapter
from ucp.router.embedder import Embedder, SentenceTransformerEmbedder
from ucp.router.training import EPOCHS, train_adapter

K = 5


def stream(p: Prepared, seed: int) -> list[int]:
    order = list(range(len(p.queries)))
    random.Random(seed).shuffle(order)
    return order


def fit(
    p: Prepared, idx: Sequence[int], *, epochs: int = EPOCHS, seed: int = 0
) -> tuple[QueryAdapter, float, int]:
    """An adapter trained on the queries ``idx`` of ``p`` (as logged pairs); CPU seconds, pair count."""
    keys = [d.key for d in p.docs]
    tool_index = {k: i for i, k in enumerate(keys)}
    tool_vecs = p.retriever.doc_vectors(keys)
    qrows, pos, negs = [], [], []
    for i in idx:
        q = p.queries[i]
        shown = p.retriever.search(q.query, K, query_vector=p.vectors[i]).keys
        hard = [tool_index[k] for k in shown if k not in q.relevant]
        for r in q.relevant:
            qrows.append(i)
            pos.append(tool_index[r])
            negs.append(hard)
    c0 = time.process_time()
    adapter = train_adapter(p.vectors[qrows], pos, negs, tool_vecs, epochs=epochs, seed=seed)
    return adapter, time.process_time() - c0, len(pos)


def score(p: Prepared, idx: Sequence[int], adapter: QueryAdapter | None) -> dict[str, float]:
    rows = []
    for i in idx:
        keys = p.retriever.search(p.queries[i].query, 10, query_vector=p.vectors[i], adapter=adapter).keys
        rows.append(query_metrics(keys, p.queries[i].relevant))
    m = mean_metrics(rows)
    return {"recall@5": m["recall@5"], "recall@10": m["recall@10"], "all@5": m["all@5"]}


def run_train_bench(
    sets: Sequence[tuple[str, str | Path, str | Path]],
    *,
    embedder: Embedder | None = None,
    limit: int | None = 2000,
    cache_dir: str | Path | None = None,
    epochs: int = EPOCHS,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Halves and cross figures for every given ``(name, tools.jsonl, queries.jsonl)`` set."""
    with ExitStack() as stack:
        if cache_dir is None:
            cache_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="ucp-trainbench-"))
        cdir = Path(cache_dir)
        emb = embedder if embedder is not None else SentenceTransformerEmbedder(onnx_dir=cdir / "onnx")
        task = stack.enter_context(_progress(progress))
        prepared = [prepare(n, t, q, emb, cdir, limit, task, clauses=False) for n, t, q in sets]
    halves: dict[str, Any] = {}
    whole: dict[str, QueryAdapter] = {}
    for p in prepared:
        order = stream(p, seed)
        first, second = order[: len(order) // 2], order[len(order) // 2 :]
        adapter, cpu, n_pairs = fit(p, first, epochs=epochs, seed=seed)
        before, after = score(p, second, None), score(p, second, adapter)
        halves[p.name] = {
            "train_pairs": n_pairs,
            "cpu_s": cpu,
            "untrained": before,
            "trained": after,
            "gain_recall@5": after["recall@5"] - before["recall@5"],
        }
        whole[p.name], _, _ = fit(p, order, epochs=epochs, seed=seed)
    cross = []
    for src in prepared:
        for tgt in prepared:
            if src is tgt:
                continue
            second = stream(tgt, seed)[len(tgt.queries) // 2 :]
            before, after = score(tgt, second, None), score(tgt, second, whole[src.name])
            cross.append(
                {
                    "source": src.name,
                    "target": tgt.name,
                    "untrained": before,
                    "trained": after,
                    "gain_recall@5": after["recall@5"] - before["recall@5"],
                }
            )
    return {"model_id": emb.model_id, "limit": limit, "epochs": epochs, "halves": halves, "cross": cross}


def render_train(result: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    t = Table(title="ucp train: first half of a stream -> second half (R@5 / R@10 / all-needed@5)")
    for col in ("stream", "pairs", "CPU s", "untrained", "trained", "gain R@5"):
        t.add_column(col, justify="right" if col != "stream" else "left")
    for name, h in result["halves"].items():
        u, a = h["untrained"], h["trained"]
        t.add_row(
            name,
            str(h["train_pairs"]),
            f"{h['cpu_s']:.1f}",
            f"{u['recall@5']:.3f} / {u['recall@10']:.3f} / {u['all@5']:.3f}",
            f"{a['recall@5']:.3f} / {a['recall@10']:.3f} / {a['all@5']:.3f}",
            f"{h['gain_recall@5']:+.3f}",
        )
    c = Table(title="ucp train: trained on one set's stream -> second half of the other's")
    for col in ("trained on", "tested on", "untrained R@5", "trained R@5", "gain"):
        c.add_column(col)
    for row in result["cross"]:
        c.add_row(
            row["source"],
            row["target"],
            f"{row['untrained']['recall@5']:.3f}",
            f"{row['trained']['recall@5']:.3f}",
            f"{row['gain_recall@5']:+.3f}",
        )
    return [t, c]
