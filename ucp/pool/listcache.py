"""Last-known lists: what each downstream offered when UCP last saw it, kept on disk.

A host waits for UCP's first ``tools/list`` before it shows any tool, and most hosts never
ask again (they ignore ``list_changed``). Without this cache that first answer waits for
the slowest downstream to start. With it, a restart answers from the lists the servers
gave last time, while the servers connect in the background (stale-while-revalidate):

- one JSON file per server under ``$UCP_HOME/index/lists/``, written each time the server's
  lists are fetched live (atomic replace);
- an entry is used only if the server's configuration is unchanged (the fingerprint of its
  registry entry: command, args, env references, url, headers...), so editing a server
  never serves another server's tools;
- when the live lists arrive and differ, UCP sends ``list_changed`` as for any change;
- a call to a server that is still starting waits for its first connection (bounded by the
  call's timeout) instead of failing;
- a missing, unreadable or malformed file (not UTF-8, truncated, too deep, too large) is
  ignored with a warning: the server is then
  waited for as on a first start.

``[pool] cache_lists = false`` turns it off.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import mcp_types as types
from pydantic import ValidationError

from ucp.config.models import SERVER_NAME_RE
from ucp.fileio import atomic_write_text
from ucp.log import get_logger
from ucp.pool.connection import Snapshot
from ucp.safeparse import load_json

log = get_logger("ucp.pool")

FORMAT = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
_LISTS = (
    ("tools", types.Tool),
    ("resources", types.Resource),
    ("templates", types.ResourceTemplate),
    ("prompts", types.Prompt),
)


def _lists(snapshot: Snapshot) -> dict[str, list[Any]]:
    return {
        key: [
            item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in getattr(snapshot, key)
        ]
        for key, _ in _LISTS
    }


class ListCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._known: dict[
            str, tuple[str, dict[str, list[Any]]]
        ] = {}  # what each file holds: no rewrite if unchanged

    def _file(self, server: str) -> Path | None:
        """The server's file; None for a name that is not a valid server name (it never escapes the folder)."""
        return self.directory / f"{server}.json" if SERVER_NAME_RE.match(server) else None

    def load(self, server: str, fingerprint: str) -> Snapshot | None:
        """The snapshot saved for ``server`` under the same ``fingerprint``, or None."""
        path = self._file(server)
        if not fingerprint or path is None:
            return None
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("list_cache_unreadable", server=server, file=str(path), error=str(exc))
            return None
        try:
            if len(raw) > MAX_FILE_BYTES:
                raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
            data = load_json(raw)  # not UTF-8, too deep, truncated: all a DocumentError (ValueError)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not a format-{FORMAT} list cache file")
            if data.get("fingerprint") != fingerprint:
                log.info("list_cache_stale", server=server, reason="the server's configuration changed")
                return None
            lists: dict[str, list[Any]] = {}
            for key, model in _LISTS:
                items = data.get(key, [])
                if not isinstance(items, list):
                    raise ValueError(f"{key!r} is not a list")
                lists[key] = [model.model_validate(item) for item in items]
        except (ValueError, ValidationError) as exc:
            log.warning(
                "list_cache_ignored",
                server=server,
                file=str(path),
                error=str(exc)[:300],
                action="the server is waited for as on a first start",
            )
            return None
        self._known[server] = (fingerprint, {key: data.get(key, []) for key, _ in _LISTS})
        return Snapshot(**lists)

    def save(self, server: str, fingerprint: str, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the server's last-known lists (no write when the file holds them)."""
        path = self._file(server)
        if not fingerprint or path is None:
            return
        lists = _lists(snapshot)
        if self._known.get(server) == (fingerprint, lists):
            return
        data = {
            "format": FORMAT,
            "server": server,
            "fingerprint": fingerprint,
            "saved_at": time.time(),
            **lists,
        }
        try:
            atomic_write_text(path, json.dumps(data, separators=(",", ":")))
        except OSError as exc:  # a full or read-only disk costs the cache, nothing else
            log.warning("list_cache_not_saved", server=server, error=str(exc))
            return
        self._known[server] = (fingerprint, lists)

    def forget(self, server: str) -> None:
        path = self._file(server)
        self._known.pop(server, None)
        if path is None:
            return
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("list_cache_not_removed", server=server, error=str(exc))
