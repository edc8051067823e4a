"""Text embedders: the ``Embedder`` protocol, the sentence-transformers one, a hashing one for tests.

Importing this module never imports onnxruntime, torch or sentence-transformers (cold
start: the first ``tools/list`` must not wait for them).  ``SentenceTransformerEmbedder``
loads its model on first use (``load()``, ``dim`` or ``encode``), always offline, and
serves the default model without torch (ONNX Runtime).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ucp.router.documents import ToolDoc
from ucp.router.tokenize import schema_params, split_identifier, tokenize

Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


# Bump when embedding_text changes: cached vectors of the old text are then not reused.
EMBED_TEXT_VERSION = "v1"


def embedding_text(doc: ToolDoc) -> str:
    """The text embedded for a tool: ``name words: description Parameters: p (desc); ...``.

    Chosen on the dev data: splitting identifier names into words and appending
    parameter names and descriptions helped; adding the server name did not.
    """
    name = doc.name if " " in doc.name or not doc.name.isascii() else " ".join(split_identifier(doc.name))
    head = f"{doc.title} ({name})" if doc.title and doc.title != doc.name else name
    text = f"{head}: {doc.description}" if doc.description else head
    params = [
        " ".join(split_identifier(p)) + (f" ({d})" if d else "") for p, d in schema_params(doc.input_schema)
    ]
    if params:
        text += " Parameters: " + "; ".join(params)
    return text


def embedding_key(text: str) -> str:
    """Content hash of an embedded text (the embedding-cache key, with the model id)."""
    return hashlib.sha256(f"{EMBED_TEXT_VERSION}\n{text}".encode()).hexdigest()[:32]


class EmbedderUnavailable(RuntimeError):
    """The configured model cannot be loaded (offline, missing files, missing dependency)."""

    code = "embedder_unavailable"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape ``(len(texts), dim)`` (sync)."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> Vectors: ...


def l2_normalise(x: npt.NDArray[np.floating[Any]]) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = (arr / norms).astype(np.float32, copy=False)
    return out


PACKAGED_MODEL = Path(__file__).parent / "model" / "all-MiniLM-L6-v2"
TRAIN_EXTRA_HINT = "install the train extra: pip install 'ucp[train]'"


def default_model_path() -> str:
    """Filesystem path of all-MiniLM-L6-v2 as shipped inside ucp (weights, tokenizer, ONNX graph)."""
    if not (PACKAGED_MODEL / "model.safetensors").exists():  # pragma: no cover - a broken install
        raise EmbedderUnavailable(
            f"the packaged embedding model is missing from {PACKAGED_MODEL}; reinstall ucp"
        )
    return str(PACKAGED_MODEL)


class SentenceTransformerEmbedder:
    """A sentence-transformers model directory (or hub name), loaded lazily and offline.

    ``model``: None -> all-MiniLM-L6-v2 as packaged with ucp; otherwise a local directory or
    a model name already in the Hugging Face cache. ``model_id`` (the embedding-cache key)
    is stable across installs for the default model and is the given name or resolved path
    otherwise.

    Two backends, same vectors: a plain BERT with mean pooling in a local directory (the
    default model) runs on ONNX Runtime + tokenizers (:mod:`ucp.router.onnx_encoder`) for
    queries and tool texts alike, so serving never imports torch; anything else (another
    architecture, a hub name) goes through sentence-transformers, which needs the ``train``
    extra (torch). ``onnx_dir`` is where graphs of non-packaged plain-BERT directories are
    built once (the packaged model ships its own).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        num_threads: int | None = None,
        onnx_dir: Path | None = None,
    ) -> None:
        self._model_arg = model
        self._onnx_dir = onnx_dir
        self._onnx: Any = None
        self._device = device
        self._batch_size = batch_size
        self._num_threads = num_threads
        self._st: Any = None
        self._dim = 0
        self._lock = threading.RLock()
        if model is None:
            self._model_id = DEFAULT_MODEL_ID
        elif Path(model).expanduser().exists():
            self._model_id = str(Path(model).expanduser().resolve())
        else:
            self._model_id = model

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def query_backend(self) -> str:
        """What encodes texts: onnxruntime or sentence-transformers."""
        return "onnxruntime" if self._onnx is not None else "sentence-transformers"

    @property
    def loaded(self) -> bool:
        return self._onnx is not None or self._st is not None

    @property
    def dim(self) -> int:
        self.load()
        return self._dim

    def _target(self) -> str:
        if self._model_arg is None:
            return default_model_path()
        p = Path(self._model_arg).expanduser()
        return str(p) if p.exists() else self._model_arg

    def load(self) -> None:
        """Load the model (idempotent, thread-safe): ONNX Runtime if possible, else sentence-transformers."""
        if self.loaded:
            return
        with self._lock:
            if self.loaded:
                return
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            target = self._target()
            onnx_error: BaseException | None = None
            if self._device == "cpu" and Path(target).is_dir():
                from ucp.router import onnx_encoder
                from ucp.router.onnx_graph import UnsupportedModel

                try:
                    encoder = onnx_encoder.load(Path(target), self._onnx_dir, threads=self._num_threads or 2)
                    encoder.encode("warm up")  # the first run costs ~100 ms of kernel set-up
                    self._onnx, self._dim = encoder, encoder.dim
                    return
                except UnsupportedModel:
                    pass  # another architecture: sentence-transformers
                except Exception as exc:  # onnx missing to build the graph, a runtime problem
                    onnx_error = exc
            self._load_st(onnx_error)

    def _load_st(self, onnx_error: BaseException | None = None) -> Any:
        """The sentence-transformers model (loaded on first need; under the lock)."""
        with self._lock:
            if self._st is not None:
                return self._st
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                why = (
                    f" (ONNX Runtime could not serve it: {type(onnx_error).__name__}: {onnx_error})"
                    if onnx_error
                    else ""
                )
                raise EmbedderUnavailable(
                    f"cannot load embedding model {self._model_id!r}{why}: it needs sentence-transformers "
                    f"(torch), which is not installed; {TRAIN_EXTRA_HINT}, use a plain BERT model directory, "
                    "or run with dense retrieval off"
                ) from exc
            if self._num_threads:
                import torch

                torch.set_num_threads(self._num_threads)
            try:
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # "Loading weights" bars
            except ImportError:  # pragma: no cover
                pass
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    model = SentenceTransformer(self._target(), device=self._device)
            except Exception as exc:
                raise EmbedderUnavailable(
                    f"cannot load embedding model {self._model_id!r} offline ({type(exc).__name__}: {exc}). "
                    "Give a local model directory, or download the model into the Hugging Face cache "
                    "first (UCP never downloads models at run time)."
                ) from exc
            getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
            dim: Any = getter()
            if dim is None:
                raise EmbedderUnavailable(f"embedding model {self._model_id!r} does not report its dimension")
            self._dim = int(dim)
            self._st = model
            return model

    def encode(self, texts: list[str]) -> Vectors:
        self.load()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        if self._onnx is not None:
            # one unpadded pass per text: the same vector as the padded batch, no padding work
            # (2.8x less wall time than sentence-transformers for 464 ToolLens tools, RETRIEVAL.md)
            out = np.zeros((len(texts), self._dim), dtype=np.float32)
            for i, t in enumerate(texts):
                out[i] = self._onnx.encode(t)
            return out
        vecs = self._load_st().encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return l2_normalise(vecs)


class HashingEmbedder:
    """Deterministic bag-of-tokens embedder without dependencies (for tests and fallbacks).

    Each token (the BM25 tokeniser's) and each token bigram is hashed (blake2b,
    keyed by ``seed``) to a signed bucket; texts sharing tokens get a positive cosine.
    """

    def __init__(self, dim: int = 256, *, seed: int = 0) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self._dim = dim
        self._key = seed.to_bytes(8, "little", signed=True)

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dim}-{int.from_bytes(self._key, 'little', signed=True)}"

    @property
    def dim(self) -> int:
        return self._dim

    def _bucket(self, feature: str) -> tuple[int, float]:
        h = hashlib.blake2b(feature.encode("utf-8"), digest_size=8, key=self._key).digest()
        n = int.from_bytes(h, "little")
        return n % self._dim, 1.0 if (n >> 63) & 1 else -1.0

    def encode(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            tokens = tokenize(text)
            features = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
            for f in features:
                j, sign = self._bucket(f)
                out[i, j] += sign
        return l2_normalise(out)
