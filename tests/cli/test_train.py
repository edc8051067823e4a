"""`ucp train` end to end on a learning store filled the way serving fills it, with the packaged model:
a new version is stored with its held-back check, promoted only on request, and listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from ucp.bench.datasets import load_queries, load_tools
from ucp.config.paths import Paths
from ucp.router.feedback import FeedbackStore

SLICE = Path(__file__).resolve().parents[1] / "bench" / "data" / "metatool_slice"

pytestmark = pytest.mark.integration  # loads the embedding model


def _log_use(home: Path, n: int) -> None:
    docs = load_tools(SLICE / "tools.jsonl")
    keys = [d.key for d in docs]
    queries = [q for q in load_queries(SLICE / "queries.jsonl", tool_ids=set(keys)) if q.relevant][:n]
    store = FeedbackStore(Paths(home).ensure().learning_db)
    store.add_tool_docs(docs, 1.0)
    for i, q in enumerate(queries):
        hit = sorted(q.relevant)[0]
        ignored = next(k for k in keys if k not in q.relevant)
        shown = [(ignored, 1, False), (hit, 2, False)]
        store.add_ranking(
            f"r{i}", ts=float(i), session="s", source="search", query=q.query, shown=shown, mode="hybrid"
        )
        store.add_outcome(f"r{i}", ts=i + 0.5, tool=hit, rank=2, ok=True, error=None, first_hit=True)
    store.close()


def test_train_stores_a_checked_version_and_promotes_only_on_request(cli: Cli) -> None:
    _log_use(cli.home, 60)
    result = cli("train", "--json", "--epochs", "3", "--min-pairs", "20")
    out = json.loads(result.stdout)
    assert out["version"] != out["serving_before"] and out["promoted"] is False
    assert out["train_pairs"] > 0 and out["held_pairs"] > 0 and out["kind"].startswith("query-adapter")
    # a version that is worse on the held-back pairs is stored as refused and the command fails
    assert out["status"] in {"trained", "refused"}
    assert (result.exit_code == 0) == (out["status"] == "trained"), result.stderr
    assert out["version"] in cli("model", "list").stdout
    again = cli("train", "--epochs", "3", "--min-pairs", "20", "--promote")
    promoted = "now serving" in again.stdout
    assert promoted == (again.exit_code == 0), again.stdout + again.stderr
    listing = cli("model", "list", "--json").stdout
    serving = json.loads(listing)["state"]["serving"]
    assert serving == ("v0002" if promoted else out["serving_before"]), listing
