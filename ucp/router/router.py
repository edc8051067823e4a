"""The router facade the gateway uses (interim lexical ranking; hybrid retrieval plugs in here)."""

from __future__ import annotations

import re
import uuid

from anyio.abc import TaskGroup

from ucp.config.models import LearningSettings, RouterSettings
from ucp.config.paths import Paths
from ucp.router.base import RankContext, Ranked, Ranking
from ucp.router.catalog import Catalog, CatalogChange

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()
    return set(_WORD.findall(text))


class Router:
    def __init__(
        self,
        catalog: Catalog,
        *,
        settings: RouterSettings,
        learning: LearningSettings,
        paths: Paths,
        dense: bool = True,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.dense_ready = False

    def start(self, tg: TaskGroup) -> None:
        return None

    def close(self) -> None:
        return None

    def on_catalog_change(self, change: CatalogChange) -> None:
        return None

    async def rank(
        self, query: str, *, limit: int, server: str | None = None, context: RankContext | None = None,
        record: bool = True,
    ) -> Ranking:
        q = _words(query)
        scored = []
        for entry in self.catalog.sorted_entries():
            if server and entry.server != server:
                continue
            if not self.catalog.healthy.get(entry.server, False):
                continue
            words = _words(f"{entry.exposed} {entry.description}")
            score = len(q & words) / (len(q) or 1)
            if score > 0:
                scored.append(Ranked(entry=entry, score=score))
        scored.sort(key=lambda r: -r.score)
        return Ranking(query=query, results=tuple(scored[:limit]), mode="lexical", ranking_id=uuid.uuid4().hex)
