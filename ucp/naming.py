"""Exposed names: ``<server>__<tool>``, always ``^[A-Za-z0-9_-]{1,64}$``.

Every model provider accepts that alphabet and length (no dots). A name that
fits is used as is; one that does not (too long, or with characters outside the
alphabet) is shortened deterministically and suffixed with a short hash of the
original ``(server, tool)``, so the same tool always gets the same name and two
different tools never share one. ``NameMap`` keeps the reverse mapping and, in
the astronomically unlikely case of a hash clash, lengthens the hash.
"""

from __future__ import annotations

import difflib
import hashlib
import re

EXPOSED_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_LEN = 64
SEPARATOR = "__"
_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def _digest(server: str, tool: str, length: int) -> str:
    return hashlib.sha256(f"{server}\x00{tool}".encode()).hexdigest()[:length]


def exposed_name(server: str, tool: str, *, hash_len: int = 8) -> str:
    """The exposed name of ``tool`` on ``server`` (deterministic, no state)."""
    plain = f"{server}{SEPARATOR}{tool}"
    if EXPOSED_NAME_RE.match(plain) and len(plain) <= MAX_LEN:
        return plain
    safe_tool = _BAD_CHARS.sub("_", tool) or "tool"
    suffix = "_" + _digest(server, tool, hash_len)
    head = f"{server}{SEPARATOR}{safe_tool}"
    return head[: MAX_LEN - len(suffix)] + suffix


class NameMap:
    """Bidirectional map exposed name <-> (server, original name), collision-free."""

    def __init__(self) -> None:
        self._forward: dict[tuple[str, str], str] = {}
        self._reverse: dict[str, tuple[str, str]] = {}

    def add(self, server: str, tool: str) -> str:
        key = (server, tool)
        if key in self._forward:
            return self._forward[key]
        name = exposed_name(server, tool)
        hash_len = 8
        while name in self._reverse and self._reverse[name] != key:
            hash_len += 4  # a clash with a literal name or another hash: lengthen ours
            name = exposed_name(server, tool + "\x00", hash_len=hash_len)
        self._forward[key] = name
        self._reverse[name] = key
        return name

    def remove_server(self, server: str) -> None:
        for key in [k for k in self._forward if k[0] == server]:
            self._reverse.pop(self._forward.pop(key), None)

    def retain(self, server: str, tools: set[str]) -> None:
        """Forget names of ``server`` that are not in ``tools``."""
        for key in [k for k in self._forward if k[0] == server and k[1] not in tools]:
            self._reverse.pop(self._forward.pop(key), None)

    def resolve(self, name: str) -> tuple[str, str] | None:
        return self._reverse.get(name)

    def name_of(self, server: str, tool: str) -> str | None:
        return self._forward.get((server, tool))

    def names(self) -> list[str]:
        return list(self._reverse)

    def __len__(self) -> int:
        return len(self._reverse)


def suggest(name: str, candidates: list[str], limit: int = 3) -> list[str]:
    """Near matches for an unknown name: close spellings first, then shared suffix/prefix."""
    close = difflib.get_close_matches(name, candidates, n=limit, cutoff=0.5)
    if len(close) < limit:
        tail = name.split(SEPARATOR)[-1].lower()
        for cand in candidates:
            if cand not in close and tail and tail in cand.lower():
                close.append(cand)
            if len(close) >= limit:
                break
    return close[:limit]
