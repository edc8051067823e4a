"""The hand-written ONNX graph: the shipped file is current, it points into the weights, only plain BERTs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ucp.router import onnx_graph
from ucp.router.embedder import PACKAGED_MODEL


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
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({**pooling, "pooling_mode_cls_token": True})
    )
    (tmp_path / onnx_graph.WEIGHTS_FILE).write_bytes(b"")
    with pytest.raises(onnx_graph.UnsupportedModel):
        onnx_graph.plain_bert(tmp_path)  # CLS pooling: sentence-transformers serves it
    with pytest.raises(onnx_graph.UnsupportedModel):
        onnx_graph.plain_bert(tmp_path / "missing")


def test_embedded_weights_are_the_safetensors_bytes() -> None:
    pytest.importorskip("onnx")
    model = onnx_graph.build(PACKAGED_MODEL, external=False)
    inits = {t.name: t for t in model.graph.initializer}
    _, _, offset, length = onnx_graph.safetensors_index(PACKAGED_MODEL / onnx_graph.WEIGHTS_FILE)[
        "embeddings.LayerNorm.bias"
    ]
    with (PACKAGED_MODEL / onnx_graph.WEIGHTS_FILE).open("rb") as f:
        f.seek(offset)
        assert inits["embeddings.LayerNorm.bias"].raw_data == f.read(length)
