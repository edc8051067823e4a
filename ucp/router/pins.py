"""Trust on first use, failing closed: tool definitions are pinned by hash; a change is withheld.

A server that silently changes a tool's description or schema after you started using it
(a "rug pull") changes what the model is told to do. UCP pins the content hash of every
tool the first time it sees it (``$UCP_HOME/state/pins.json``) and flags any later change:
a warning in the log, a flag in ``ucp__describe_tool`` / ``ucp tools describe``, a count in
``/healthz``, and ``ucp trust list``. ``ucp trust approve NAME`` (or ``--all``) accepts the
new definition.

Failing closed:
- a flagged tool is **withheld** until approved: still listed (with a warning, so the
  user can find and approve it) but its calls are refused (``ToolWithheldError``);
  ``[trust] changed_tools = "warn"`` keeps them callable (the old behaviour);
- a pins file that cannot be read or parsed is **not** reset silently: it is moved aside
  (``pins.json.corrupt``) and the store is marked untrusted, so every tool seen afterwards
  is flagged as "pin lost" until approved (``ucp trust approve --all`` ends it);
- descriptions that look like injected instructions (``injection.py``) are flagged in
  listings and search results (``warning_for``), whatever their pin.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ucp.errors import ToolWithheldError
from ucp.fileio import atomic_write_text
from ucp.log import get_logger
from ucp.router.catalog import CatalogEntry
from ucp.router.injection import injection_signals, warning_text
from ucp.safeparse import DocumentError, load_json

log = get_logger("ucp.trust")

LOST = "unknown (the pins file was unreadable)"
MAX_PINS_BYTES = 32 * 1024 * 1024


class PinStore:
    def __init__(self, path: Path | None, *, withhold: bool = True, flag_injection: bool = True) -> None:
        self.path = path
        self.withhold = withhold
        self.flag_injection = flag_injection
        self.pins: dict[str, str] = {}
        self.changed: dict[str, dict[str, str]] = {}
        self.untrusted_since: float | None = None  # set while pins were lost and not re-approved
        self._injection: dict[str, list[str]] = {}  # exposed -> signals, from the last observe
        self._lock = threading.Lock()
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            raw = path.read_bytes()
            if len(raw) > MAX_PINS_BYTES:
                raise DocumentError(f"larger than {MAX_PINS_BYTES} bytes")
            data = load_json(raw)
            if not isinstance(data, dict):
                raise DocumentError("the top level is not an object")
            pins, changed = data.get("pins", {}), data.get("changed", {})
            if not isinstance(pins, dict) or not isinstance(changed, dict):
                raise DocumentError("'pins' and 'changed' must be objects")
            self.pins = {str(k): str(v) for k, v in pins.items()}
            self.changed = {str(k): {str(a): str(b) for a, b in dict(v).items()} for k, v in changed.items()}
            since = data.get("untrusted_since")
            self.untrusted_since = float(since) if isinstance(since, (int, float)) else None
        except (OSError, ValueError, TypeError) as exc:
            self.pins, self.changed = {}, {}
            self.untrusted_since = time.time()
            aside = path.with_name(path.name + ".corrupt")
            try:
                path.replace(aside)
            except OSError:
                aside = path
            log.error(
                "pins_unreadable",
                file=str(path),
                kept_as=str(aside),
                error=str(exc)[:200],
                action="every tool is treated as unapproved until `ucp trust approve`",
            )

    # ------------------------------------------------------------ observing the catalog
    def observe(self, entries: Iterable[CatalogEntry]) -> list[dict[str, str]]:
        """Pin new tools; return the definitions that differ from their pin (newly flagged).

        While the store is untrusted (pins lost), a tool without a pin is flagged, not pinned."""
        flagged = []
        dirty = False
        with self._lock:
            for e in entries:
                signals = injection_signals(_description(e)) if self.flag_injection else []
                if signals:
                    self._injection[e.exposed] = signals
                else:
                    self._injection.pop(e.exposed, None)
                pinned = self.pins.get(e.exposed)
                if pinned is None and self.untrusted_since is None:
                    self.pins[e.exposed] = e.content_hash
                    dirty = True
                elif pinned != e.content_hash:
                    prev = self.changed.get(e.exposed)
                    if prev is None or prev.get("now") != e.content_hash:
                        info = {
                            "tool": e.exposed,
                            "server": e.server,
                            "name": e.tool.name,
                            "pinned": pinned or LOST,
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

    # ------------------------------------------------------------ questions
    def is_changed(self, exposed: str) -> bool:
        return exposed in self.changed

    def is_withheld(self, exposed: str) -> bool:
        return self.withhold and exposed in self.changed

    def injection(self, exposed: str) -> list[str]:
        return list(self._injection.get(exposed, ()))

    def warning_for(self, exposed: str) -> str | None:
        """The warning to show next to a tool in listings and search results, or None."""
        parts = []
        if exposed in self.changed:
            what = "withheld: calls are refused" if self.withhold else "still callable"
            parts.append(
                f"UCP warning: this tool's definition changed since it was first approved ({what}); "
                f"review it, then `ucp trust approve {exposed}`"
            )
        signals = self._injection.get(exposed)
        if signals:
            parts.append(warning_text(signals))
        return "; ".join(parts) or None

    def check_call(self, exposed: str) -> None:
        """Raise ``ToolWithheldError`` when calls of ``exposed`` are refused."""
        if self.is_withheld(exposed):
            info = self.changed[exposed]
            raise ToolWithheldError(
                f"{exposed} is withheld: its definition changed since it was approved (pinned "
                f"{info.get('pinned', '')[:12]}, now {info.get('now', '')[:12]}); review it "
                f"(`ucp tools describe {exposed}`), then `ucp trust approve {exposed}`",
                tool=exposed,
                server=info.get("server"),
            )

    def guard(self, server: str, tool: str) -> None:
        """``check_call`` by downstream names (the pool's view): refuse a withheld tool."""
        if not self.withhold or not self.changed:
            return
        for exposed, info in list(self.changed.items()):
            if info.get("server") == server and info.get("name", exposed.split("__", 1)[-1]) == tool:
                self.check_call(exposed)

    # ------------------------------------------------------------ approving
    def approve(self, names: Iterable[str] | None = None) -> list[str]:
        with self._lock:
            targets = list(self.changed) if names is None else [n for n in names if n in self.changed]
            for name in targets:
                self.pins[name] = self.changed.pop(name)["now"]
            if names is None:
                self.untrusted_since = None  # every tool reviewed: pin new tools again
        self.save()
        return targets

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pins": dict(sorted(self.pins.items())),
            "changed": dict(sorted(self.changed.items())),
        }
        if self.untrusted_since is not None:
            out["untrusted_since"] = self.untrusted_since
        return out

    def save(self) -> None:
        if self.path is None:
            return
        with self._lock:
            data = json.dumps(self.to_dict(), indent=1)
        atomic_write_text(self.path, data)


def _description(entry: CatalogEntry) -> str:
    tool = entry.tool
    parts = [tool.description or "", tool.title or ""]
    props = (tool.input_schema or {}).get("properties")
    if isinstance(props, dict):
        parts += [str(p.get("description", "")) for p in props.values() if isinstance(p, dict)]
    return "\n".join(parts)
