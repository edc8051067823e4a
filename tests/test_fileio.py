"""Atomic file writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ucp.fileio import atomic_write_text


def test_atomic_write_follows_symlinks_and_keeps_mode(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_atomic_write_creates_a_private_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "state.json"
    atomic_write_text(target, "{}")
    assert target.read_text() == "{}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]
