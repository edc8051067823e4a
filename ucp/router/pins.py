"""Trust on first use: tool definitions are pinned by hash; a later change is flagged.

A server that silently changes a tool's description or schema after you started using it
(a "rug pull") changes what the model is told to do. UCP pins the content hash of every
tool the first time it sees it (``$UCP_HOME/state/pins.json``) and flags any later change:
a warning in the log, a flag in ``ucp__describe_tool`` / ``ucp tools describe``, a count in
``/healthz``, and ``ucp trust list``. ``ucp trust approve NAME`` (or ``--all``) accepts the
new definition.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ucp.fileio import atomic_write_text
from ucp.router.catalog import CatalogEntry


class PinStore:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.pins: dict[str, str] = {}
        self.changed: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self.pins = {str(k): str(v) for k, v in data.get("pins", {}).items()}
                self.changed = {str(k): dict(v) for k, v in data.get("changed", {}).items()}
            except (OSError, ValueError, AttributeError):
                self.pins, self.changed = {}, {}  # unreadable: start over (it is only a safety net)

    def observe(self, entries: Iterable[CatalogEntry]) -> list[dict[str, str]]:
        """Pin new tools; return the definitions that differ from their pin (newly flagged)."""
        flagged = []
        dirty = False
        with self._lock:
            for e in entries:
                pinned = self.pins.get(e.exposed)
                if pinned is None:
                    self.pins[e.exposed] = e.content_hash
                    dirty = True
                elif pinned != e.content_hash:
                    prev = self.changed.get(e.exposed)
                    if prev is None or prev.get("now") != e.content_hash:
                        info = {
                            "tool": e.exposed,
                            "server": e.server,
                            "pinned": pinned,
                            "now": e.content_hash,
                        }
                        self.changed[e.exposed] = info
                        flagged.append(info)
                        dirty = True
                elif self.changed.pop(e.exposed, None) is not None:  # changed back to what was pinned
                    dirty = True
        if dirty:
            self.save()
        return flagged

    def is_changed(self, exposed: str) -> bool:
        return exposed in self.changed

    def approve(self, names: Iterable[str] | None = None) -> list[str]:
        with self._lock:
            targets = list(self.changed) if names is None else [n for n in names if n in self.changed]
            for name in targets:
                self.pins[name] = self.changed.pop(name)["now"]
        self.save()
        return targets

    def to_dict(self) -> dict[str, Any]:
        return {"pins": dict(sorted(self.pins.items())), "changed": dict(sorted(self.changed.items()))}

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            data = json.dumps(self.to_dict(), indent=1)
        atomic_write_text(self.path, data)
