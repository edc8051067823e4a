"""Sentence encoding with ONNX Runtime and tokenizers: queries and tool texts, no torch in the process.

Why: the serving process used to load torch (722 MB installed, ~500 MB RSS) to run a six-layer
MiniLM. ONNX Runtime runs the same computation (the graph of :mod:`ucp.router.onnx_graph`, written
from the model's own weights) about twice as fast for one query and at a fraction of the memory;
the Hugging Face ``tokenizers`` package gives the same token ids as sentence-transformers' fast
tokenizer. One text per run, unpadded: a tool text's vector equals the padded batch's (cosine
≥ 0.9999 against sentence-transformers, tested on both dev sets), and no padding work is wasted.

Where the graph comes from: a model directory that ships ``encoder.onnx`` beside its
``model.safetensors`` (the packaged default model does; its initializers point into the
safetensors file, so the weights are on disk once) is run as it is. Any other plain BERT
directory gets a graph with the weights embedded, written once into the cache directory
(needs the ``onnx`` package, in the ``train`` extra) and reused while the weights are unchanged.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ucp.router.onnx_graph import GRAPH_FILE, WEIGHTS_FILE, plain_bert

Vectors = npt.NDArray[np.float32]
FORMAT = "ucp-bert-onnx-v2"


class OnnxEncoder:
    """One ONNX Runtime session and one tokenizer: ``encode(text)`` -> unit vector ``[dim]``."""

    def __init__(self, graph: Path, tokenizer: Path, *, max_len: int, dim: int, threads: int = 2) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(str(tokenizer))
        tok.no_padding()
        tok.enable_truncation(max_length=max_len)
        self._tokenizer = tok
        self.dim = dim
        self.graph = graph

    def token_ids(self, text: str) -> list[int]:
        ids: list[int] = self._tokenizer.encode(text).ids
        return ids

    def encode(self, text: str) -> Vectors:
        ids = np.asarray(self.token_ids(text), dtype=np.int64)
        out = self._session.run(None, {"ids": ids})[0]
        return np.asarray(out, dtype=np.float32).reshape(-1)


def graph_key(model_dir: Path) -> str:
    """Cache key of a built graph: the format and the weights file (path, size, mtime)."""
    w = model_dir / WEIGHTS_FILE
    stat = w.stat()
    return hashlib.sha256(
        f"{FORMAT}\n{w.resolve()}\n{stat.st_size}:{int(stat.st_mtime)}".encode()
    ).hexdigest()[:16]


def graph_for(model_dir: Path, cache_dir: Path | None) -> Path:
    """The ONNX graph of ``model_dir``: its shipped ``encoder.onnx``, else one built into ``cache_dir``.

    Raises ``UnsupportedModel`` (not a plain BERT) or ``ImportError`` (building needs ``onnx``)."""
    shipped = model_dir / GRAPH_FILE
    if shipped.exists():
        return shipped
    if cache_dir is None:
        raise FileNotFoundError(
            f"{model_dir} has no {GRAPH_FILE} and no cache directory was given to build one"
        )
    path = cache_dir / f"bert-{graph_key(model_dir)}.onnx"
    if path.exists():
        return path
    from ucp.router.onnx_graph import build  # imports onnx (the train extra)

    proto = build(model_dir, external=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(proto.SerializeToString())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load(model_dir: Path, cache_dir: Path | None = None, *, threads: int = 2) -> OnnxEncoder:
    """The ONNX encoder of a plain-BERT sentence-transformers directory (see :func:`graph_for`)."""
    cfg, max_len = plain_bert(model_dir)
    graph = graph_for(model_dir, cache_dir)
    try:
        return OnnxEncoder(
            graph, model_dir / "tokenizer.json", max_len=max_len, dim=int(cfg["hidden_size"]), threads=threads
        )
    except Exception:
        if graph.parent != model_dir:  # a damaged cached build: drop it so the next start rebuilds it
            graph.unlink(missing_ok=True)
        raise
