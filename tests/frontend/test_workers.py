"""A worker's session ids and the affinity decision (which requests go to a sibling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp.server import streamable_http_manager

from ucp.frontend.workers import SessionAffinity, owner_of, prefix_session_ids, worker_socket

pytestmark = pytest.mark.anyio


def test_owner_is_the_first_hex_digit() -> None:
    assert owner_of("3abc") == 3
    assert owner_of("f000") == 15
    assert owner_of("") is None
    assert owner_of("zz") is None


def test_prefixed_ids_name_their_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    original = getattr(streamable_http_manager, "uuid4")  # noqa: B009
    monkeypatch.setattr(streamable_http_manager, "uuid4", original)  # restored after the test
    prefix_session_ids(5)
    mint = getattr(streamable_http_manager, "uuid4")  # noqa: B009
    ids = {mint().hex for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) == 32 and owner_of(i) == 5 for i in ids)


async def _run(app: Any, headers: list[tuple[bytes, bytes]]) -> list[str]:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append("local")

    affinity = SessionAffinity(inner, index=0, directory=app)
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers, "query_string": b""}

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        seen.append(message["type"])

    await affinity(scope, receive, send)
    return seen


async def test_own_and_unknown_sessions_are_served_here(tmp_path: Path) -> None:
    assert await _run(tmp_path, []) == ["local"]  # no session yet (or a 2026-era request)
    assert await _run(tmp_path, [(b"mcp-session-id", b"0abc")]) == ["local"]  # this worker's
    # another worker's session whose socket is not there (that worker is gone): served here, which
    # answers "session not found" as a single process would
    assert not worker_socket(tmp_path, 1).exists()
    assert await _run(tmp_path, [(b"mcp-session-id", b"1abc")]) == ["local"]


def test_sibling_sockets_are_per_index(tmp_path: Path) -> None:
    assert worker_socket(tmp_path, 0) != worker_socket(tmp_path, 1)
    assert worker_socket(tmp_path, 3).parent == tmp_path
