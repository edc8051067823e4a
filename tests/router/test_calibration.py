"""Calibrated confidence: monotone, comparable across queries, levels; the router's match signal and tail cut."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.fakes import tool
from ucp.config.models import LearningSettings, RouterSettings
from ucp.config.paths import Paths
from ucp.router.calibration import GOOD, WEAK, confidence, match_level
from ucp.router.catalog import Catalog
from ucp.router.embedder import HashingEmbedder
from ucp.router.hybrid import HybridRetriever
from ucp.router.router import TAIL_CUT, Router


def test_confidence_is_monotone_and_bounded() -> None:
    zs = [confidence(z, 0.4, 200) for z in (0.0, 1.0, 3.0, 5.0, 8.0)]
    assert zs == sorted(zs) and zs[0] > 0.0 and zs[-1] < 1.0
    assert confidence(4.0, 0.6, 200) > confidence(4.0, 0.2, 200)
    assert confidence(4.0, None, 200) == pytest.approx(1 / (1 + 2.718281828 ** -(1.03 * 4 - 5.44)), rel=1e-6)


def test_small_catalogs_scale_z_up_to_the_reference() -> None:
    # three tools cannot reach z > sqrt(2): unscaled, even a perfect match would read as "none"
    assert confidence(1.4, 0.5, 3) > confidence(1.4, 0.5, 200)
    assert confidence(1.4, 0.5, 50) == confidence(1.4, 0.5, 200)


def test_levels() -> None:
    assert match_level(None) == "none"
    assert match_level(WEAK - 0.01) == "none"
    assert match_level(WEAK) == "weak"
    assert match_level(GOOD) == "good"


def _router(tmp_path: Path) -> Router:
    c = Catalog()
    c.set_server_tools(
        "time",
        [
            tool("get_current_time", "Get the current time in a timezone.", timezone="string"),
            tool("convert_time", "Convert a time between timezones.", time="string"),
        ],
    )
    c.set_server_tools(
        "cloud", [tool(f"plan_{w}", f"Plan {w} capacity for cloud servers.") for w in ("cpu", "disk", "net")]
    )
    retriever = HybridRetriever(HashingEmbedder(dim=64))
    retriever.set_docs([], embed=False)
    assert retriever.load_dense()
    router = Router(
        c, settings=RouterSettings(), learning=LearningSettings(), paths=Paths(tmp_path), retriever=retriever
    )
    router.sync_now()
    return router


def test_router_reports_confidence_match_and_servers(tmp_path: Path) -> None:
    router = _router(tmp_path)

    async def main() -> None:
        good = await router.rank("current time in a timezone", limit=5, record=False)
        assert good.results[0].entry.exposed == "time__get_current_time"
        assert good.match == "good" and good.servers == ("cloud", "time")
        top = good.results[0].confidence
        assert top is not None and top >= GOOD
        # the unrelated server's tools do not crowd a clear answer
        lead = good.results[0].entry.server
        assert all(r.entry.server == lead or (r.confidence or 0) >= TAIL_CUT * top for r in good.results)
        assert not any(r.entry.server == "cloud" for r in good.results)
        none = await router.rank("zebra quantum lasagna", limit=5, record=False)
        assert none.match == "none" and none.servers == ("cloud", "time")

    anyio.run(main)
