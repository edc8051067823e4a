"""CLI tests: an isolated UCP home and user HOME per test, a CliRunner, and logging restored
afterwards (the CLI points structlog at the runner's stderr, which closes after the test)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner, Result

from ucp.cli.main import app


@dataclass
class Cli:
    home: Path  # UCP_HOME
    user_home: Path  # HOME
    runner: CliRunner

    @property
    def registry(self) -> Path:
        return self.home / "ucp.toml"

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    home = tmp_path / "ucp-home"
    user_home = tmp_path / "user"
    user_home.mkdir()
    monkeypatch.setenv("UCP_HOME", str(home))
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("COLUMNS", "200")
    for var in ("UCP_CONFIG", "XDG_CONFIG_HOME", "APPDATA", "UCP_CATALOG_DIR", "UCP_LOG_LEVEL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return Cli(home=home, user_home=user_home, runner=CliRunner())


def snapshot(path: Path) -> bytes | None:
    """The file's bytes (None if absent): compare before/after a failed command."""
    return path.read_bytes() if path.exists() else None
