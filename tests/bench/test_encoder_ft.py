"""The encoder fine-tuning bench (bench only): batches without a repeated tool, and one real
training step of the packaged MiniLM that changes its vectors (integration: loads the model)."""

from __future__ import annotations

import numpy as np
import pytest

from ucp.bench.encoder_ft import BATCH, _batches, _STEmbedder, fine_tune


def test_batches_cover_every_pair_once_without_a_repeated_tool() -> None:
    pairs = [(f"q{i}", f"t{i % 7}", f"text {i % 7}") for i in range(100)]
    batches = _batches(pairs, seed=0)
    flat = [p for b in batches for p in b]
    assert sorted(flat) == sorted(pairs)
    for b in batches:
        assert len(b) <= BATCH and len({t for _, t, _ in b}) == len(b)


@pytest.mark.integration
def test_one_step_of_fine_tuning_moves_the_encoder() -> None:
    from sentence_transformers import SentenceTransformer

    from ucp.router.embedder import default_model_path

    texts = ["convert euros to yen", "currency exchange rates"]
    before = _STEmbedder(SentenceTransformer(default_model_path(), device="cpu"), "base").encode(texts)
    pairs = [
        ("convert euros to yen", "fx", "currency exchange rates"),
        ("weather in Paris", "wx", "forecast"),
    ]
    model, cost = fine_tune(pairs, seed=0, threads=1, max_wall_s=120.0)
    emb = _STEmbedder(model, "ft")
    after = emb.encode(texts)
    assert cost["pairs_seen"] == 2 and cost["steps"] == 1 and emb.dim == 384
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(before, after)
