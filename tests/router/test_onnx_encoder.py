"""ONNX Runtime encoding: the same vectors as sentence-transformers, the shipped graph, other models' builds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ucp.bench.datasets import load_queries, load_tools
from ucp.router import onnx_encoder, onnx_graph
from ucp.router.embedder import PACKAGED_MODEL, SentenceTransformerEmbedder, embedding_text

SLICE = Path(__file__).parents[1] / "bench" / "data" / "metatool_slice"
# ToolLens (no licence to copy it here) looks like this: RapidAPI endpoints with parameter lists
TOOLLENS_LIKE = [
    "Worldwide Recipes: Suggestions: Get Suggestions Parameters: q",
    "Weather API (Current weather data): Get current weather for a city Parameters: city (city name); units",
    "I'm planning a meal using the ingredient beef and searching for nutrition information.",
    "x " * 400,  # truncated at 256 tokens, like sentence-transformers
    "日本語のテキスト",
    "",
]


def _texts() -> list[str]:
    docs = load_tools(SLICE / "tools.jsonl")
    queries = load_queries(SLICE / "queries.jsonl", tool_ids={d.key for d in docs})
    return [embedding_text(d) for d in docs] + [q.query for q in queries] + TOOLLENS_LIKE


def _copy_without_graph(model: Path) -> Path:
    """The packaged model as a user's own directory: no shipped graph, the weights linked."""
    shutil.copytree(
        PACKAGED_MODEL, model, ignore=shutil.ignore_patterns(onnx_graph.GRAPH_FILE, onnx_graph.WEIGHTS_FILE)
    )
    (model / onnx_graph.WEIGHTS_FILE).symlink_to(PACKAGED_MODEL / onnx_graph.WEIGHTS_FILE)
    return model


# ---------------------------------------------------------------- integration: real model
@pytest.fixture(scope="module")
def sentence_transformers_model():  # the reference: what serving used before (needs the train extra)
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(PACKAGED_MODEL), device="cpu")


@pytest.mark.integration
def test_onnx_vectors_equal_sentence_transformers_on_the_dev_slices(sentence_transformers_model) -> None:
    texts = _texts()
    emb = SentenceTransformerEmbedder()
    ours = emb.encode(texts)
    assert emb.query_backend == "onnxruntime"
    ref = sentence_transformers_model.encode(
        texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
    )
    cos = np.sum(ours * ref, axis=1)
    assert len(texts) > 140 and float(cos.min()) >= 0.9999, (float(cos.min()), texts[int(cos.argmin())])
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.integration
def test_another_plain_bert_directory_gets_a_cached_built_graph(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    model = _copy_without_graph(tmp_path / "my-model")
    cache = tmp_path / "onnx"
    custom = SentenceTransformerEmbedder(str(model), onnx_dir=cache)
    texts = ["what time is it in Tokyo", "convert 100 euros to yen"]
    a = custom.encode(texts)
    assert custom.query_backend == "onnxruntime"
    built = list(cache.glob("bert-*.onnx"))
    assert len(built) == 1 and built[0].stat().st_size > 80_000_000  # weights embedded
    np.testing.assert_allclose(a, SentenceTransformerEmbedder().encode(texts), atol=1e-6)
    mtime = built[0].stat().st_mtime_ns
    again = onnx_encoder.load(model, cache)
    assert again.graph == built[0] and built[0].stat().st_mtime_ns == mtime  # reused, not rebuilt


@pytest.mark.integration
def test_a_damaged_cached_graph_is_dropped_and_rebuilt(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    model = _copy_without_graph(tmp_path / "my-model")
    cache = tmp_path / "onnx"
    path = onnx_encoder.graph_for(model, cache)
    path.write_bytes(b"not an onnx graph")
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own exception type
        onnx_encoder.load(model, cache)
    assert not path.exists()
    assert onnx_encoder.load(model, cache).encode("x").shape == (384,)
