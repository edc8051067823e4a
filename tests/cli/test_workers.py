"""The process model's pure parts: a worker's command line and role, socket directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ucp.cli import workers
from ucp.cli.workers import WORKER_ENV, remove_directory, worker_argv, worker_role


def test_worker_argv_drops_only_the_workers_option() -> None:
    assert worker_argv(["serve", "--transport", "http", "--workers", "2", "--port", "9"]) == [
        "serve",
        "--transport",
        "http",
        "--port",
        "9",
    ]
    assert worker_argv(["serve", "--workers=4", "--no-dense"]) == ["serve", "--no-dense"]


def test_worker_role_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKER_ENV, raising=False)
    assert worker_role() is None
    monkeypatch.setenv(WORKER_ENV, "1:/tmp/ucp-pool-x")
    assert worker_role() == (1, Path("/tmp/ucp-pool-x"))
    monkeypatch.setenv(WORKER_ENV, "one:/tmp")
    assert worker_role() is None


def test_stale_socket_directories_are_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    stale = tmp_path / "ucp-pool-999999999-abc"  # no such process
    stale.mkdir()
    (stale / "x.sock").write_text("")
    mine_alive = tmp_path / f"ucp-pool-{os.getppid()}-abc"  # a live process's: kept
    mine_alive.mkdir()
    created = workers.socket_directory()
    try:
        assert not stale.exists()
        assert mine_alive.exists()
        assert created.name.startswith(f"ucp-pool-{os.getpid()}-")
    finally:
        remove_directory(created)
    assert not created.exists()
