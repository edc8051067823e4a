"""Where UCP keeps things: one home directory.

``UCP_HOME`` (default: the platform's user data dir) holds the registry file, the
index, learning state and logs, so ``UCP_HOME=$(mktemp -d)`` gives a clean,
isolated UCP. ``UCP_CONFIG`` (or ``--config``) points at another registry or host
config file instead of ``$UCP_HOME/ucp.toml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

HOME_ENV = "UCP_HOME"
CONFIG_ENV = "UCP_CONFIG"
REGISTRY_FILENAME = "ucp.toml"


@dataclass(frozen=True)
class Paths:
    """All locations under one home; nothing is created until ``ensure()``."""

    home: Path

    @property
    def registry(self) -> Path:
        return self.home / REGISTRY_FILENAME

    @property
    def services(self) -> Path:
        """Services that registered themselves over HTTP (persisted across restarts)."""
        return self.home / "services.json"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def learning_db(self) -> Path:
        return self.state_dir / "learning.sqlite"

    @property
    def pins(self) -> Path:
        """Tool definition hashes first seen (trust on first use)."""
        return self.state_dir / "pins.json"

    @property
    def keys(self) -> Path:
        """API keys made by ``ucp keys create`` (hashed; 0600)."""
        return self.home / "keys.json"

    @property
    def audit_dir(self) -> Path:
        """The append-only audit log and its rotations."""
        return self.home / "audit"

    @property
    def oauth_dir(self) -> Path:
        """Tokens and client registrations for downstream servers that need OAuth (0600 files)."""
        return self.home / "oauth"

    @property
    def enable_requests(self) -> Path:
        """``ucp registry enable NAME`` drops a file NAME here; a running pool unparks NAME."""
        return self.state_dir / "enable"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "ucp.log"

    def ensure(self) -> Paths:
        for d in (self.home, self.index_dir, self.state_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


def ucp_home(env: dict[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    value = environ.get(HOME_ENV)
    if value:
        return Path(value).expanduser().resolve()
    return Path(user_data_dir("ucp", appauthor=False))


def default_paths(env: dict[str, str] | None = None) -> Paths:
    return Paths(ucp_home(env))


def config_path(explicit: str | Path | None = None, env: dict[str, str] | None = None) -> Path:
    """The config file to read: ``--config``, else ``$UCP_CONFIG``, else ``$UCP_HOME/ucp.toml``."""
    environ = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser().resolve()
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser().resolve()
    return default_paths(env).registry
