"""`ucp model list|promote|rollback|ab`, `ucp stats` A/B arms, `ucp train` refusing too few pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli.conftest import Cli
from ucp.router.adapter import QueryAdapter
from ucp.router.feedback import FeedbackStore
from ucp.router.models import ModelRegistry


def _registry(cli: Cli) -> tuple[ModelRegistry, str, str]:
    reg = ModelRegistry(cli.home / "models")
    good = reg.add(QueryAdapter(np.zeros((4, 4))), {"status": "trained", "held_recall@5": 0.7})
    bad = reg.add(QueryAdapter(np.eye(4)), {"status": "refused", "reason": "held-back R@5 0.1 < serving 0.7"})
    return reg, good, bad


def test_list_promote_rollback(cli: Cli) -> None:
    reg, good, bad = _registry(cli)
    listed = json.loads(cli("model", "list", "--json").stdout)
    assert [m["version"] for m in listed["models"]] == ["base", good, bad]
    assert listed["state"]["serving"] == "base"
    assert cli("model", "promote", good).exit_code == 0
    assert reg.state().serving == good
    refused = cli("model", "promote", bad)
    assert refused.exit_code != 0 and "refused" in refused.stderr
    assert reg.state().serving == good
    assert cli("model", "rollback").exit_code == 0
    assert reg.state().serving == "base"
    again = cli("model", "rollback")
    assert again.exit_code != 0 and "nothing to roll back" in again.stderr
    assert "serving" in cli("model", "list").stdout


def test_ab_share_and_stats_compare_the_arms(cli: Cli) -> None:
    _, good, _ = _registry(cli)
    assert cli("model", "ab", good, "--share", "0.3").exit_code == 0
    assert json.loads(cli("model", "list", "--json").stdout)["state"]["ab_share"] == 0.3
    store = FeedbackStore(cli.home / "state" / "learning.sqlite")
    for i in range(4):
        arm = good if i % 2 else "base"
        store.add_ranking(f"r{i}", ts=1_800_000_000 + i, session=f"s{i}", source="search", query="q",
                          shown=[("a__x", 1, False)], mode="hybrid", arm=arm)  # fmt: skip
    store.add_outcome("r1", ts=1_800_000_010, tool="a__x", rank=1, ok=True, error=None, first_hit=True)
    store.close()
    data = json.loads(cli("stats", "--json").stdout)
    arms = {a["arm"]: a for a in data["arms"]}
    assert arms["base"]["hit_rate"] == 0.0 and arms[good]["hit_rate"] == 0.5
    assert "A/B" in cli("stats").stdout


def test_train_refuses_too_few_pairs(cli: Cli) -> None:
    result = cli("train")
    assert result.exit_code != 0 and "logged (query, successful call) pairs" in result.stderr


def test_train_without_the_train_extra_says_what_to_install(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    result = cli("train")
    assert result.exit_code == 2
    assert "pip install 'ucp[train]'" in " ".join(result.output.split())
    bench = cli("bench", "train", "--data", "x")
    assert bench.exit_code == 2 and "ucp[train]" in " ".join(bench.output.split())
