"""``ucp bench ready``: time from registering N tools to hybrid search (the dense side serving).

Measures what ``ucp serve`` does after a server with N tools registers: BM25 at once,
then (in the background there) model load, query-encoder set-up, embedding of every
tool missing from the cache, index swap.  Run in a fresh process (``ucp bench ready``)
so imports count; ``cold`` starts from an empty embedding cache, ``warm`` reuses it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from ucp.bench.datasets import load_tools
from ucp.bench.retrieval import scale_corpus


def run_ready_bench(tools: str | Path, count: int = 500, *, onnx_dir: Path | None = None) -> dict[str, Any]:
    from ucp.router.embed_cache import EmbedCache
    from ucp.router.embedder import SentenceTransformerEmbedder
    from ucp.router.hybrid import HybridRetriever

    docs, _ = scale_corpus(load_tools(tools), count)
    out: dict[str, Any] = {"tools": len(docs)}
    with tempfile.TemporaryDirectory(prefix="ucp-ready-") as tmp:
        onnx = onnx_dir or Path(tmp) / "onnx"
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            retriever = HybridRetriever(
                SentenceTransformerEmbedder(onnx_dir=onnx), cache=EmbedCache(Path(tmp))
            )
            retriever.set_docs(docs, embed=False)
            t_bm25 = time.perf_counter() - t0
            if not retriever.load_dense():
                raise RuntimeError(f"dense retrieval unavailable: {retriever.dense_error}")
            out[label] = {
                "bm25_s": t_bm25,
                "hybrid_s": time.perf_counter() - t0,
                "cpu_s": time.process_time(),
            }
            assert retriever.embedder is not None
            out["query_encoder"] = getattr(retriever.embedder, "query_backend", "")
    return out
