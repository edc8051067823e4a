"""Bench only: fine-tune the MiniLM encoder itself on a stream's first half, test on its second half.

The question (issue 13): is fine-tuning the encoder worth its CPU next to ``ucp train``'s
query adapter?  Same stream as ``ucp bench train`` (a data set's queries shuffled with
the seed, first half = what was logged, second half = what comes next), same metrics,
same serving hybrid search; only the encoder differs.  Training: one epoch of
``MultipleNegativesRankingLoss`` (in-batch negatives, scale 20) over at most ``max_pairs``
(query, embedding text of a called tool) pairs, batches built without a repeated tool
(a repeat would be a false in-batch negative), stopped at ``max_wall_s``.  torch runs on
``threads`` threads (1: leave the other core to the neighbours; run it under ``nice``).
Then every tool and test query is re-embedded by the fine-tuned model.

Never part of serving: ``ucp train`` ships the adapter (RETRIEVAL.md has both figures).

    nice -n 19 python -m ucp.bench.encoder_ft --data DIR [--data DIR] [--max-pairs 2000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ucp.bench.cross import prepare
from ucp.bench.retrieval import _progress, mean_metrics, query_metrics
from ucp.bench.train import stream
from ucp.router.embedder import (
    SentenceTransformerEmbedder,
    Vectors,
    default_model_path,
    embedding_text,
    l2_normalise,
)
from ucp.router.hybrid import HybridRetriever

BATCH = 32
SCALE = 20.0


class _STEmbedder:
    """An in-memory sentence-transformers model as an ``Embedder`` (bench only)."""

    def __init__(self, model: Any, model_id: str) -> None:
        self.model = model
        self._id = model_id

    @property
    def model_id(self) -> str:
        return self._id

    @property
    def dim(self) -> int:
        get = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(get())

    def encode(self, texts: list[str]) -> Vectors:
        out = self.model.encode(texts, batch_size=64, convert_to_numpy=True, show_progress_bar=False)
        return l2_normalise(np.asarray(out, dtype=np.float32))


def _batches(pairs: list[tuple[str, str, str]], seed: int) -> list[list[tuple[str, str, str]]]:
    """Batches of ``BATCH`` pairs with no tool twice in a batch (greedy, order shuffled)."""
    todo = pairs[:]
    random.Random(seed).shuffle(todo)
    out: list[list[tuple[str, str, str]]] = []
    while todo:
        batch: list[tuple[str, str, str]] = []
        rest: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for p in todo:
            if len(batch) < BATCH and p[1] not in seen:
                batch.append(p)
                seen.add(p[1])
            else:
                rest.append(p)
        out.append(batch)
        todo = rest
    return out


def fine_tune(
    pairs: list[tuple[str, str, str]], *, seed: int, threads: int, max_wall_s: float
) -> tuple[Any, dict[str, float]]:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    model = SentenceTransformer(default_model_path(), device="cpu")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
    t0, c0 = time.perf_counter(), time.process_time()
    done = steps = 0
    for batch in _batches(pairs, seed):
        if time.perf_counter() - t0 > max_wall_s:
            break
        qf = model.preprocess([q for q, _, _ in batch])
        df = model.preprocess([d for _, _, d in batch])
        qe = model(qf)["sentence_embedding"]
        de = model(df)["sentence_embedding"]
        qe = torch.nn.functional.normalize(qe, dim=1)
        de = torch.nn.functional.normalize(de, dim=1)
        logits = SCALE * qe @ de.T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        done += len(batch)
        steps += 1
    model.eval()
    return model, {
        "pairs_seen": float(done),
        "steps": float(steps),
        "train_cpu_s": time.process_time() - c0,
        "train_wall_s": time.perf_counter() - t0,
    }


def _score(r: HybridRetriever, queries: list[Any], vecs: np.ndarray) -> dict[str, float]:
    rows = [
        query_metrics(r.search(q.query, 10, query_vector=v).keys, q.relevant)
        for q, v in zip(queries, vecs, strict=True)
    ]
    m = mean_metrics(rows)
    return {
        "recall@5": m["recall@5"],
        "recall@10": m["recall@10"],
        "all@5": m["all@5"],
        "all@10": m["all@10"],
    }


def run(
    data: list[Path],
    *,
    limit: int,
    max_pairs: int,
    max_wall_s: float,
    seed: int,
    threads: int,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"limit": limit, "max_pairs": max_pairs, "threads": threads, "sets": {}}
    with tempfile.TemporaryDirectory(prefix="ucp-encft-") as tmp, _progress(False) as task:
        cdir = cache_dir or Path(tmp)
        base = SentenceTransformerEmbedder(onnx_dir=cdir / "onnx")
        for folder in data:
            p = prepare(
                folder.name,
                folder / "tools.jsonl",
                folder / "queries.jsonl",
                base,
                cdir,
                limit,
                task,
                clauses=False,
            )
            order = stream(p, seed)
            first, second = order[: len(order) // 2], order[len(order) // 2 :]
            docs = {d.key: d for d in p.docs}
            pairs = [
                (p.queries[i].query, r, embedding_text(docs[r])) for i in first for r in p.queries[i].relevant
            ]
            random.Random(seed).shuffle(pairs)
            pairs = pairs[:max_pairs]
            test_q = [p.queries[i] for i in second]
            before = _score(p.retriever, test_q, p.vectors[second])
            model, cost = fine_tune(pairs, seed=seed, threads=threads, max_wall_s=max_wall_s)
            emb = _STEmbedder(model, f"minilm-ft-{folder.name}")
            c0, t0 = time.process_time(), time.perf_counter()
            r = HybridRetriever(emb)
            r.set_docs(p.docs, embed=False)
            assert r.load_dense()
            qv = emb.encode([q.query for q in test_q])
            reembed = {"reembed_cpu_s": time.process_time() - c0, "reembed_wall_s": time.perf_counter() - t0}
            after = _score(r, test_q, qv)
            out["sets"][folder.name] = (
                {
                    "pairs": len(pairs),
                    "untrained": before,
                    "fine_tuned": after,
                    "gain_recall@5": after["recall@5"] - before["recall@5"],
                    "gain_all@10": after["all@10"] - before["all@10"],
                }
                | cost
                | reembed
            )
            print(json.dumps({folder.name: out["sets"][folder.name]}), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, action="append", required=True)
    ap.add_argument("--limit", type=int, default=2000)
    ap.add_argument("--max-pairs", type=int, default=2000)
    ap.add_argument("--max-wall-s", type=float, default=600.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", type=Path, default=None, help="base-model embedding cache to reuse")
    a = ap.parse_args()
    res = run(
        a.data,
        limit=a.limit,
        max_pairs=a.max_pairs,
        max_wall_s=a.max_wall_s,
        seed=a.seed,
        threads=a.threads,
        cache_dir=a.cache_dir,
    )
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
