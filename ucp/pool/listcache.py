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
- a missing, unreadable or malformed file is ignored with a warning: the server is then
  waited for as on a first start.

``[pool] cache_lists = false`` turns it off.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import mcp_types as types
from pydantic import ValidationError

from ucp.config.models import SERVER_NAME_RE
from ucp.log import get_logger
from ucp.pool.connection import Snapshot

log = get_logger("ucp.pool")

FORMAT = 1
_LISTS = (("tools", types.Tool), ("resources", types.Resource), ("templates", types.ResourceTemplate),
          ("prompts", types.Prompt))


class ListCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, server: str) -> Path:
        if not SERVER_NAME_RE.match(server):  # validated names only: a name never escapes the directory
            raise ValueError(f"not a server name: {server!r}")
        return self.directory / f"{server}.json"

    def load(self, server: str, fingerprint: str) -> Snapshot | None:
        """The snapshot saved for ``server`` under the same ``fingerprint``, or None."""
        if not fingerprint or not SERVER_NAME_RE.match(server):
            return None
        path = self._file(server)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("list_cache_unreadable", server=server, file=str(path), error=str(exc))
            return None
        try:
            data = json.loads(raw)
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
            log.warning("list_cache_ignored", server=server, file=str(path), error=str(exc)[:300],
                        action="the server is waited for as on a first start")
            return None
        return Snapshot(**lists)

    def save(self, server: str, fingerprint: str, snapshot: Snapshot) -> None:
        if not fingerprint or not SERVER_NAME_RE.match(server):
            return
        data: dict[str, Any] = {"format": FORMAT, "server": server, "fingerprint": fingerprint, "saved_at": time.time()}
        for key, _ in _LISTS:
            data[key] = [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in getattr(snapshot, key)]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{server}.", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, separators=(",", ":"))
                os.replace(tmp, self._file(server))
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a full or read-only disk costs the cache, nothing else
            log.warning("list_cache_not_saved", server=server, error=str(exc))

    def forget(self, server: str) -> None:
        if not SERVER_NAME_RE.match(server):
            return
        try:
            self._file(server).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("list_cache_not_removed", server=server, error=str(exc))
