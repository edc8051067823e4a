"""``ucp bench train``: what ``ucp train`` gains, on a stream's later half and on another data set.

A data set's queries, shuffled (seed), are the stream of what users asked; each
query's relevant tools are the calls that succeeded and the static router's other
top-5 tools are the shown-and-ignored hard negatives (what the learning store
would hold).  Reported, Recall@5 / R@10 / all-needed@5 / all-needed@10 through the
serving hybrid search, for every part of a trained version on its own and together:

- ``untrained``; ``adapter`` (the query adapter alone); ``expansion`` (tool-side:
  use vectors + query-term field, no adapter), ``vectors`` / ``terms`` (each half of
  it); ``both`` (adapter trained against the use vectors + expansion); ``co`` (co-usage
  alone) and ``both+co``;
- ``halves``: train on the first half of a stream, test on the second half (the
  target: +0.10 R@5);
- ``cross``: train on one set's whole stream, test on the other set's second half
  (a version learned on one catalog applied to an unrelated one: should not hurt).

CPU seconds of training are reported next to the gain (the "per CPU minute" figure).
``sweep=True`` adds the knob grids of the tool-side parts (use-vector weight ×
query-term weight; co-usage weight × protected positions) on every set's halves: the
shipped values were chosen on one set and are reported on the other (RETRIEVAL.md).
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ucp.bench.cross import Prepared, prepare
from ucp.bench.retrieval import _progress, mean_metrics, query_metrics
from ucp.router.adapter import QueryAdapter
from ucp.router.embedder import Embedder, SentenceTransformerEmbedder
from ucp.router.expansion import CoUsage, ToolExpansion, TrainedModel
from ucp.router.training import EPOCHS, REG, train_adapter, with_use_vectors

K = 5
VARIANTS = ("untrained", "adapter", "expansion", "vectors", "terms", "both", "co", "both+co")
METRICS = ("recall@5", "recall@10", "all@5", "all@10")
ALPHA_GRID = (0.5, 1.0, 2.0, 4.0, 8.0)
TERM_GRID = (0.0, 0.25, 0.5, 1.0, 2.0)
CAP_GRID = (5, 10, 20, 50, 1000)
CO_GRID = (0.1, 0.2, 0.3, 0.5, 1.0)
PROTECT_GRID = (0, 3, 5)


def stream(p: Prepared, seed: int) -> list[int]:
    order = list(range(len(p.queries)))
    random.Random(seed).shuffle(order)
    return order


@dataclass
class Rows:
    """The logged pairs of some queries of a set: (query row, positive index, hard negatives)."""

    qrows: list[int]
    pos: list[int]
    negs: list[list[int]]
    groups: list[list[str]]


def rows_of(p: Prepared, idx: Sequence[int]) -> Rows:
    keys = [d.key for d in p.docs]
    tool_index = {k: i for i, k in enumerate(keys)}
    out = Rows([], [], [], [])
    for i in idx:
        q = p.queries[i]
        shown = p.retriever.search(q.query, K, query_vector=p.vectors[i]).keys
        hard = [tool_index[k] for k in shown if k not in q.relevant]
        for r in q.relevant:
            out.qrows.append(i)
            out.pos.append(tool_index[r])
            out.negs.append(hard)
        out.groups.append(list(q.relevant))
    return out


def expansion_of(p: Prepared, rows: Rows, **kw: Any) -> ToolExpansion:
    keys = [d.key for d in p.docs]
    tool_vecs = p.retriever.doc_vectors(keys)
    return ToolExpansion.learn(
        [p.queries[i].query for i in rows.qrows],
        p.vectors[rows.qrows],
        [keys[j] for j in rows.pos],
        {k: tool_vecs[i] for i, k in enumerate(keys)},
        **kw,
    )


def fit(
    p: Prepared,
    idx: Sequence[int],
    *,
    epochs: int = EPOCHS,
    seed: int = 0,
    expansion: ToolExpansion | None = None,
    reg: float = REG,
    rows: Rows | None = None,
) -> tuple[QueryAdapter, float, int]:
    """An adapter trained on the queries ``idx`` of ``p`` (as logged pairs); CPU seconds, pair count.

    With ``expansion`` the adapter is trained against its use vectors (as ``ucp train`` does)."""
    keys = [d.key for d in p.docs]
    rows = rows if rows is not None else rows_of(p, idx)
    tool_vecs = with_use_vectors(p.retriever.doc_vectors(keys), keys, expansion)
    c0 = time.process_time()
    adapter = train_adapter(
        p.vectors[rows.qrows], rows.pos, rows.negs, tool_vecs, epochs=epochs, seed=seed, reg=reg
    )
    return adapter, time.process_time() - c0, len(rows.pos)


def score(p: Prepared, idx: Sequence[int], adapter: QueryAdapter | TrainedModel | None) -> dict[str, float]:
    rows = []
    t0 = time.perf_counter()
    for i in idx:
        keys = p.retriever.search(p.queries[i].query, 10, query_vector=p.vectors[i], adapter=adapter).keys
        rows.append(query_metrics(keys, p.queries[i].relevant))
    ms = (time.perf_counter() - t0) * 1000 / max(1, len(idx))  # search only (query vectors precomputed)
    m = mean_metrics(rows)
    return {k: m[k] for k in METRICS} | {"ms_per_search": ms}


def models_of(
    p: Prepared, idx: Sequence[int], *, epochs: int, seed: int
) -> tuple[dict[str, TrainedModel | None], dict[str, float], int]:
    """Every variant trained on the queries ``idx``; CPU seconds per trained part; pair count."""
    rows = rows_of(p, idx)
    c0 = time.process_time()
    exp = expansion_of(p, rows)
    vec_only = expansion_of(p, rows, terms=False)
    terms_only = expansion_of(p, rows, vectors=False)
    c_exp = time.process_time() - c0
    c0 = time.process_time()
    co = CoUsage.learn(rows.groups)
    c_co = time.process_time() - c0
    adapter, c_ad, n_pairs = fit(p, idx, epochs=epochs, seed=seed, rows=rows)
    both_adapter, c_both, _ = fit(p, idx, epochs=epochs, seed=seed, expansion=exp, rows=rows)
    models: dict[str, TrainedModel | None] = {
        "untrained": None,
        "adapter": TrainedModel(adapter),
        "expansion": TrainedModel(None, exp),
        "vectors": TrainedModel(None, vec_only),
        "terms": TrainedModel(None, terms_only),
        "both": TrainedModel(both_adapter, exp),
        "co": TrainedModel(None, None, co),
        "both+co": TrainedModel(both_adapter, exp, co),
    }
    cpu = {"adapter": c_ad, "expansion": c_exp, "both": c_both + c_exp, "co": c_co}
    return models, cpu, n_pairs


def sweep(
    p: Prepared, first: Sequence[int], second: Sequence[int], both: TrainedModel | None
) -> dict[str, Any]:
    """Knob grids of the tool-side parts on one set's halves: the expansion alone (use-vector
    weight x query-term weight; queries kept per tool), co-usage on top of ``both`` (the
    adapter + expansion at the shipped knobs)."""
    rows = rows_of(p, first)
    grid = []
    for alpha in ALPHA_GRID:
        for tw in TERM_GRID:
            m = score(p, second, TrainedModel(None, expansion_of(p, rows, alpha=alpha, term_weight=tw)))
            grid.append({"alpha": alpha, "term_weight": tw} | m)
    cap_grid = []
    for cap in CAP_GRID:
        m = score(p, second, TrainedModel(None, expansion_of(p, rows, max_queries=cap)))
        cap_grid.append({"max_queries": cap} | m)
    co_grid = []
    adapter, exp = (both.adapter, both.expansion) if both is not None else (None, None)
    for w in CO_GRID:
        for protect in PROTECT_GRID:
            co = CoUsage.learn(rows.groups, weight=w, protect=protect)
            co_grid.append(
                {"weight": w, "protect": protect} | score(p, second, TrainedModel(adapter, exp, co))
            )
    return {"expansion": grid, "max_queries": cap_grid, "co_usage": co_grid}


def run_train_bench(
    sets: Sequence[tuple[str, str | Path, str | Path]],
    *,
    embedder: Embedder | None = None,
    limit: int | None = 2000,
    cache_dir: str | Path | None = None,
    epochs: int = EPOCHS,
    seed: int = 0,
    progress: bool = True,
    with_sweep: bool = False,
) -> dict[str, Any]:
    """Halves and cross figures for every given ``(name, tools.jsonl, queries.jsonl)`` set."""
    with ExitStack() as stack:
        if cache_dir is None:
            cache_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="ucp-trainbench-"))
        cdir = Path(cache_dir)
        emb = embedder if embedder is not None else SentenceTransformerEmbedder(onnx_dir=cdir / "onnx")
        task = stack.enter_context(_progress(progress))
        prepared = [prepare(n, t, q, emb, cdir, limit, task, clauses=False) for n, t, q in sets]
    import torch  # imported here so that no CPU figure below includes importing it

    del torch
    halves: dict[str, Any] = {}
    whole: dict[str, dict[str, TrainedModel | None]] = {}
    sweeps: dict[str, Any] = {}
    for p in prepared:
        order = stream(p, seed)
        first, second = order[: len(order) // 2], order[len(order) // 2 :]
        models, cpu, n_pairs = models_of(p, first, epochs=epochs, seed=seed)
        figures = {v: score(p, second, models[v]) for v in VARIANTS}
        base = figures["untrained"]
        seen = {frozenset(p.queries[i].relevant) for i in first}
        halves[p.name] = {
            "train_pairs": n_pairs,
            # share of test queries whose relevant set was already logged (what per-tool learning exploits)
            "seen_relevant_sets": sum(frozenset(p.queries[i].relevant) in seen for i in second) / len(second),
            "cpu_s": cpu,
            "rows": figures,
            "gain_recall@5": {v: figures[v]["recall@5"] - base["recall@5"] for v in VARIANTS},
            "gain_all@10": {v: figures[v]["all@10"] - base["all@10"] for v in VARIANTS},
            # kept for readers of the previous layout
            "untrained": base,
            "trained": figures["adapter"],
        }
        if with_sweep:
            sweeps[p.name] = sweep(p, first, second, models["both"])
        whole[p.name], _, _ = models_of(p, order, epochs=epochs, seed=seed)
    cross = []
    for src in prepared:
        for tgt in prepared:
            if src is tgt:
                continue
            second = stream(tgt, seed)[len(tgt.queries) // 2 :]
            rows = {
                v: score(tgt, second, whole[src.name][v])
                for v in ("untrained", "adapter", "expansion", "both", "both+co")
            }
            cross.append(
                {
                    "source": src.name,
                    "target": tgt.name,
                    "rows": rows,
                    "gain_recall@5": {v: rows[v]["recall@5"] - rows["untrained"]["recall@5"] for v in rows},
                }
            )
    out: dict[str, Any] = {
        "model_id": emb.model_id,
        "limit": limit,
        "epochs": epochs,
        "halves": halves,
        "cross": cross,
    }
    if with_sweep:
        out["sweep"] = sweeps
    return out


def _fmt(m: dict[str, float]) -> str:
    return " / ".join(f"{m[k]:.3f}" for k in METRICS)


def render_train(result: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    t = Table(title="ucp train: first half of a stream -> second half (R@5 / R@10 / all@5 / all@10)")
    for col in ("stream", "variant", "pairs", "CPU s", "figures", "gain R@5", "gain all@10"):
        t.add_column(col, justify="left" if col in ("stream", "variant") else "right")
    for name, h in result["halves"].items():
        for v, m in h["rows"].items():
            cpu = h["cpu_s"].get(v.split("+")[0])
            t.add_row(
                name,
                v,
                str(h["train_pairs"]) if v != "untrained" else "",
                f"{cpu:.1f}" if cpu is not None else "",
                _fmt(m),
                f"{h['gain_recall@5'][v]:+.3f}",
                f"{h['gain_all@10'][v]:+.3f}",
            )
    c = Table(title="ucp train: trained on one set's stream -> second half of the other's (R@5 gain)")
    for col in ("trained on", "tested on", "variant", "figures", "gain R@5"):
        c.add_column(col)
    for row in result["cross"]:
        for v, m in row["rows"].items():
            c.add_row(row["source"], row["target"], v, _fmt(m), f"{row['gain_recall@5'][v]:+.3f}")
    tables = [t, c]
    for name, sw in result.get("sweep", {}).items():
        s = Table(title=f"{name}: tool expansion alone, use-vector weight x query-term weight (halves)")
        for col in ("alpha", "term weight", "figures"):
            s.add_column(col)
        for r in sw["expansion"]:
            s.add_row(f"{r['alpha']:g}", f"{r['term_weight']:g}", _fmt(r))
        cap = Table(title=f"{name}: tool expansion alone, logged queries kept per tool (halves)")
        for col in ("queries", "figures"):
            cap.add_column(col)
        for r in sw["max_queries"]:
            cap.add_row(str(r["max_queries"]), _fmt(r))
        cu = Table(
            title=f"{name}: co-usage on top of adapter + expansion, weight x protected positions (halves)"
        )
        for col in ("weight", "protect", "figures"):
            cu.add_column(col)
        for r in sw["co_usage"]:
            cu.add_row(f"{r['weight']:g}", str(r["protect"]), _fmt(r))
        tables += [s, cap, cu]
    return tables


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Gains only (for logs and docs)."""
    return {
        "halves": {
            n: {"gain_recall@5": h["gain_recall@5"], "gain_all@10": h["gain_all@10"]}
            for n, h in result["halves"].items()
        },
        "cross": [
            {"source": c["source"], "target": c["target"], **c["gain_recall@5"]} for c in result["cross"]
        ],
        "mean_cpu": float(np.mean([h["cpu_s"]["adapter"] for h in result["halves"].values()])),
    }
