"""Embedders: lazy imports (cold start), the hashing embedder, the real model (integration)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ucp.router.embedder import (
    Embedder,
    EmbedderUnavailable,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    l2_normalise,
)


def _run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.integration  # real process, socket or model
def test_importing_the_router_does_not_import_torch_or_lancedb() -> None:
    out = _run(
        """
        import sys
        import ucp.router.embedder, ucp.router.hybrid, ucp.router.embed_cache
        from ucp.router.documents import ToolDoc
        from ucp.router.embedder import SentenceTransformerEmbedder
        from ucp.router.hybrid import HybridRetriever
        r = HybridRetriever(SentenceTransformerEmbedder())
        r.set_docs([ToolDoc(key="t__a", name="a", server="t", description="weather forecast")])
        res = r.search("weather", 5)
        heavy = [m for m in ("torch", "sentence_transformers", "transformers", "lancedb") if m in sys.modules]
        print(res.mode, res.keys, heavy)
        """
    )
    assert out == "bm25 ['t__a'] []"


def test_hashing_embedder_is_deterministic_normalised_and_lexical() -> None:
    emb = HashingEmbedder(dim=128)
    assert isinstance(emb, Embedder)
    v = emb.encode(["weather forecast for Paris", "send an email", "Weather forecasts in Paris", ""])
    assert v.shape == (4, 128) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, rtol=1e-6)
    assert not v[3].any()  # no tokens -> zero vector
    np.testing.assert_array_equal(v, emb.encode(["weather forecast for Paris", "send an email",
                                                 "Weather forecasts in Paris", ""]))  # fmt: skip
    assert v[0] @ v[2] > 0.5 > abs(v[0] @ v[1])
    other = HashingEmbedder(dim=128, seed=1)
    assert other.model_id != emb.model_id
    assert not np.allclose(other.encode(["weather"]), emb.encode(["weather"]))
    with pytest.raises(ValueError):
        HashingEmbedder(dim=0)


def test_l2_normalise_keeps_zero_rows() -> None:
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_model_ids_are_stable() -> None:
    assert SentenceTransformerEmbedder().model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert SentenceTransformerEmbedder("some-org/some-model").model_id == "some-org/some-model"
    assert not SentenceTransformerEmbedder().loaded


# ---------------------------------------------------------------- integration: real model
@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    emb = SentenceTransformerEmbedder()
    emb.load()
    return emb


@pytest.mark.integration
def test_minilm_encodes_normalised_384_vectors(minilm: SentenceTransformerEmbedder) -> None:
    v = minilm.encode(["what's the weather tomorrow", "weather forecast", "send an email to my boss"])
    assert v.shape == (3, 384) and minilm.dim == 384
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


@pytest.mark.integration
def test_single_texts_and_batches_give_the_same_vectors(minilm: SentenceTransformerEmbedder) -> None:
    texts = ["find academic papers about transformers", "x " * 400, "日本語のテキスト", ""]
    batch = minilm.encode(texts)
    single = np.stack([minilm.encode([t])[0] for t in texts])
    assert minilm.query_backend == "onnxruntime"
    np.testing.assert_allclose(single, batch, atol=1e-6)


@pytest.mark.integration
def test_missing_model_fails_clearly_offline() -> None:
    emb = SentenceTransformerEmbedder("ucp-test/definitely-not-a-downloaded-model")
    with pytest.raises(EmbedderUnavailable) as err:
        emb.load()
    assert err.value.code == "embedder_unavailable"


@pytest.mark.integration
def test_encoding_needs_neither_torch_nor_transformers() -> None:
    out = _run(
        """
        import sys
        from ucp.router.embedder import SentenceTransformerEmbedder
        e = SentenceTransformerEmbedder()
        v = e.encode(["weather in Paris", "a tool: description Parameters: q"])
        heavy = [m for m in ("torch", "sentence_transformers", "transformers", "onnx") if m in sys.modules]
        print(v.shape, e.query_backend, heavy)
        """
    )
    assert out == "(2, 384) onnxruntime []"


def test_without_the_train_extra_sentence_transformers_models_fail_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # what a lean install sees
    with pytest.raises(EmbedderUnavailable) as err:
        SentenceTransformerEmbedder("some-org/some-model")._load_st()
    assert "ucp[train]" in str(err.value)
