"""ONNX Runtime query encoding: same vectors as the torch path, cached export, safe fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ucp.router.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.integration

QUERIES = [
    "what time is it in Tokyo",
    "I'm planning a meal using the ingredient beef and grocery.",
    "convert 100 euros to yen",
    "a",
]


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    e = SentenceTransformerEmbedder()
    e.load()
    assert e.query_backend == "torch"
    return e


def test_onnx_vectors_match_torch_and_export_is_cached(
    tmp_path: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    onnx = SentenceTransformerEmbedder(onnx_dir=tmp_path)
    onnx.load()
    assert onnx.query_backend == "onnxruntime"
    exported = list(tmp_path.glob("minilm-*.onnx"))
    assert len(exported) == 1
    for q in QUERIES:
        a, b = onnx.encode([q])[0], torch_embedder.encode([q])[0]
        assert float(np.dot(a, b)) > 0.9999
        assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-4
    mtime = exported[0].stat().st_mtime
    again = SentenceTransformerEmbedder(onnx_dir=tmp_path)
    again.load()
    assert again.query_backend == "onnxruntime"
    assert exported[0].stat().st_mtime == mtime  # reused, not exported again


def test_a_corrupt_cached_graph_falls_back_to_torch_and_is_removed(
    tmp_path: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    first = SentenceTransformerEmbedder(onnx_dir=tmp_path)
    first.load()
    path = next(tmp_path.glob("minilm-*.onnx"))
    path.write_bytes(b"not an onnx graph")
    broken = SentenceTransformerEmbedder(onnx_dir=tmp_path)
    broken.load()
    assert broken.query_backend == "torch"
    assert not path.exists()
    v = broken.encode(["what time is it"])[0]
    assert float(np.dot(v, torch_embedder.encode(["what time is it"])[0])) > 0.9999


def test_onnx_batches_match_sentence_transformers_batches(
    tmp_path: Path, torch_embedder: SentenceTransformerEmbedder
) -> None:
    """Tool descriptions of a cold build go through ONNX one by one: the same vectors as the padded batch."""
    onnx = SentenceTransformerEmbedder(onnx_dir=tmp_path)
    texts = [*QUERIES, "Worldwide Recipes: Suggestions: Get Suggestions Parameters: q"]
    a = onnx.encode(texts)
    b = torch_embedder.encode(texts)  # a batch: sentence-transformers, padded with an attention mask
    assert a.shape == b.shape
    assert float(np.min(np.sum(a * b, axis=1))) > 0.9999
