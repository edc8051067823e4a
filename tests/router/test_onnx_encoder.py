"""ONNX Runtime encoding: the same vectors as sentence-transformers, the shipped graph, other models' builds."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------- unit: files only, no model load
def test_the_shipped_graph_is_what_the_builder_writes() -> None:
    pytest.importorskip("onnx")
    shipped = (PACKAGED_MODEL / onnx_graph.GRAPH_FILE).read_bytes()
    assert onnx_graph.build(PACKAGED_MODEL).SerializeToString() == shipped


def test_the_shipped_graph_points_into_the_shipped_weights() -> None:
    index = onnx_graph.safetensors_index(PACKAGED_MODEL / onnx_graph.WEIGHTS_FILE)
    size = (PACKAGED_MODEL / onnx_graph.WEIGHTS_FILE).stat().st_size
    assert max(offset + length for _, _, offset, length in index.values()) == size
    assert index["embeddings.word_embeddings.weight"][:2] == ("F32", [30522, 384])


def test_only_plain_bert_mean_pooling_directories_are_accepted(tmp_path: Path) -> None:
    cfg, max_len = onnx_graph.plain_bert(PACKAGED_MODEL)
    assert (cfg["hidden_size"], max_len) == (384, 256)
    for name in ("modules.json", "config.json", "sentence_bert_config.json", "tokenizer.json"):
        shutil.copy(PACKAGED_MODEL / name, tmp_path / name)
    (tmp_path / "1_Pooling").mkdir()
    pooling = json.loads((PACKAGED_MODEL / "1_Pooling" / "config.json").read_text())
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "pooling_mode_cls_token": True}))
    (tmp_path / onnx_graph.WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(onnx_graph.UnsupportedModel):
        onnx_graph.plain_bert(tmp_path)  # CLS pooling: sentence-transformers serves it
    with pytest.raises(onnx_graph.UnsupportedModel):
        onnx_graph.plain_bert(tmp_path / "missing")


def _copy_without_graph(model: Path) -> Path:
    """The packaged model as a user's own directory: no shipped graph, the weights linked."""
    shutil.copytree(PACKAGED_MODEL, model, ignore=shutil.ignore_patterns(onnx_graph.GRAPH_FILE, onnx_graph.WEIGHTS_FILE))
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
    ref = sentence_transformers_model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
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
    with pytest.raises(Exception):  # noqa: B017, PT011 - onnxruntime's own exception type
        onnx_encoder.load(model, cache)
    assert not path.exists()
    assert onnx_encoder.load(model, cache).encode("x").shape == (384,)
