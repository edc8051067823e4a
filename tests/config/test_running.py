"""The discovery files of running gateways: written 0600, found for the same registry, stale
ones (a dead process) removed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ucp.config.running import Running, announce, discovery_dir, find_running, withdraw


def test_announce_find_and_withdraw(tmp_path: Path) -> None:
    config = tmp_path / "ucp.toml"
    mine = Running("http://127.0.0.1:1", os.getpid(), str(config), "tok", "stdio", 2.0)
    path = announce(tmp_path, mine)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert find_running(tmp_path, config) == mine
    assert find_running(tmp_path, None) == mine
    assert find_running(tmp_path, tmp_path / "other.toml") is None  # another registry's gateway
    withdraw(path)
    assert find_running(tmp_path, config) is None


def test_stale_and_broken_files(tmp_path: Path) -> None:
    dead = Running("http://127.0.0.1:2", 2**22 + 12345, None)  # above any pid_max: no such process
    stale = announce(tmp_path, dead)
    (discovery_dir(tmp_path) / "junk.json").write_text("{not json")
    assert find_running(tmp_path, None) is None
    assert not stale.exists()  # removed by the reader
    newer = Running("http://127.0.0.1:4", os.getpid(), None, started=5.0)
    announce(tmp_path, Running("http://127.0.0.1:3", os.getppid(), None, started=1.0))
    announce(tmp_path, newer)
    assert find_running(tmp_path, None) == newer
