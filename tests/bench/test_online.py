"""The online-learning replay on a small MetaTool slice, with the dependency-free embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ucp.bench.datasets import load_tools
from ucp.bench.online import build_catalog, moving_average, run_online_bench, summarise
from ucp.router.embedder import HashingEmbedder

DATA = Path(__file__).parent / "data" / "metatool_slice"


def test_catalog_maps_every_exposed_name_back_to_its_id() -> None:
    docs = load_tools(DATA / "tools.jsonl")
    catalog, to_id = build_catalog(docs)
    assert len(catalog) == len(docs)
    assert sorted(to_id.values()) == sorted(d.key for d in docs)


@pytest.mark.slow  # 7 s alone, 20 s under coverage on a loaded machine
def test_replay_learning_beats_static_and_plots(tmp_path: Path) -> None:
    # a stream in which each query comes back a few times, as in real use
    lines = (DATA / "queries.jsonl").read_text().splitlines()
    stream = tmp_path / "queries.jsonl"
    stream.write_text(
        "\n".join(
            json.dumps({**json.loads(line), "qid": f"{json.loads(line)['qid']}-{r}"})
            for r in range(4)
            for line in lines
        )
    )
    plot = tmp_path / "online.png"
    result = run_online_bench(
        [("slice", DATA / "tools.jsonl", stream)],
        seeds=2,
        drift=True,
        cache_dir=None,
        plot=plot,
        embedder=HashingEmbedder(256),
    )
    entry = result["datasets"]["slice"]
    for variant in ("static", "learning", "learning-noisy", "drift-static", "drift-learning"):
        assert 0.0 <= entry[variant]["recall_mean"] <= 1.0
        assert entry[variant]["seeds"] == 2
    # the slice repeats each tool's queries: learning from calls must help, noise must not collapse it
    assert entry["learning"]["recall_mean"] > entry["static"]["recall_mean"]
    assert entry["learning-noisy"]["recall_mean"] > entry["static"]["recall_mean"] - 0.02
    assert plot.is_file()
    assert plot.stat().st_size > 10_000


def test_summary_and_moving_average() -> None:
    s = summarise([[1.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    assert s["recall_mean"] == 0.5
    assert s["last20_mean"] == 1.0
    assert s["recall_sd"] == 0.3
    assert moving_average([0, 1, 0, 1], 2) == [0.5, 0.5, 0.5]
    assert moving_average([1.0], 5) == [1.0]
