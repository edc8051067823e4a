"""Finding a running ``ucp serve`` for this home, so CLI commands use it instead of starting
every server themselves.

``ucp serve`` announces itself in ``$UCP_HOME/state/serve/<pid>.json`` (mode 0600): the URL
the CLI reaches it at, the registry it serves, and — when the HTTP front needs bearer keys —
a token it accepts, made for this run. The file goes when the server stops; a file whose
process is gone is stale and removed by the next reader.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ucp.fileio import atomic_write_text


@dataclass(frozen=True)
class Running:
    url: str  # http://127.0.0.1:PORT (no path)
    pid: int
    config: str | None  # the registry it serves
    token: str | None = None  # a bearer key it accepts (only when keys are required)
    transport: str = "http"
    started: float = 0.0


def discovery_dir(home: Path) -> Path:
    return home / "state" / "serve"


def announce(home: Path, running: Running) -> Path:
    path = discovery_dir(home) / f"{running.pid}.json"
    atomic_write_text(path, json.dumps(asdict(running)) + "\n", new_mode=0o600)
    os.chmod(path, 0o600)
    return path


def withdraw(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if sys.platform.startswith("win"):  # os.kill(pid, 0) would terminate it there; /healthz decides
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    except OSError:
        return False
    return True


def find_running(home: Path, config: Path | None) -> Running | None:
    """The newest live ``ucp serve`` of ``home`` serving ``config`` (any, when ``config`` is None)."""
    folder = discovery_dir(home)
    found: list[Running] = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            running = Running(**data)
        except (OSError, ValueError, TypeError):
            continue
        if not _alive(running.pid):
            withdraw(path)
            continue
        if config is not None and running.config is not None and Path(running.config) != config:
            continue
        found.append(running)
    return max(found, key=lambda r: r.started, default=None)
