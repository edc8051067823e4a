"""A synthetic catalog for the training tests: N tools, each about a made-up topic word, and a
made-up alias word per tool that only logged queries can teach (the description never says it)."""

from __future__ import annotations

import random

from ucp.router.documents import ToolDoc

N = 16
FILLERS = ("please", "now", "quickly", "for me", "today", "again")
NAMES = ["tool" + "abcdefghijklmnop"[i] for i in range(N)]


def words(seed: int) -> tuple[list[str], list[str]]:
    """``(topics, aliases)``: N made-up words each, the same for the same ``seed``."""
    rng = random.Random(seed)
    topics = ["".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(7)) for _ in range(N)]
    aliases = ["".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(7)) for _ in range(N)]
    return topics, aliases


def docs(topics: list[str]) -> list[ToolDoc]:
    return [
        ToolDoc(key=f"s__t{i}", name=NAMES[i], server="s", description=f"handles {topics[i]} items")
        for i in range(N)
    ]
