"""Answer a host's first ``initialize`` and ``tools/list`` over stdio while UCP is still loading.

A host that launches UCP waits for the answers to ``initialize`` and ``tools/list`` before it
shows any tool. UCP cannot give them before it has imported the MCP SDK and built the gateway
(~1 s here; a plain SDK server needs ~0.6 s), and a host sends the same two requests on every
launch. So ``ucp serve`` over stdio starts this front first (it imports the standard library
and ``ucp.fileio`` only) and:

- reads stdin on its own thread from the first instant; every line is queued, unchanged and in
  order, for the SDK's stdio transport (``streams``), which takes over when the gateway is up;
- until then, answers the host's first request — ``initialize`` (2025-era hosts) or
  ``server/discover`` (2026-era) — and its first ``tools/list`` (no cursor, the same params as
  last time) from the answers the SDK gave *the last time*, found under a key that hashes
  everything those answers depend on: UCP's version, the ``ucp serve`` arguments, the registry
  file, the services file, the trust pins, the last-known lists, ``UCP_*`` variables and the
  host's exact first request (client name, protocol version, capabilities). Any difference is a
  miss, and a miss changes nothing: the SDK answers as it always did;
- the SDK still sees every request, the early-answered ones included (so its session state is
  the same as without this front); its responses to those are not sent twice: they are
  compared with what the host was told, and a different tool list is announced with
  ``notifications/tools/list_changed`` (as for any change). Each start records the SDK's own
  answers for the next one (``$UCP_HOME/index/early/``, at most ``MAX_ENTRIES`` files).

Only the first ``PARSE_LINES`` lines are looked at; after that (or once the SDK reads) a line
costs a queue hand-off, as the SDK's own thread-backed reader did. ``UCP_EARLY=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ucp.fileio import atomic_write_text

FORMAT = b"ucp-early-1"
MAX_ENTRIES = 16
PARSE_LINES = 32
MAX_LOOK_CHARS = 1024 * 1024  # a handshake message is small; a longer line is passed on unread
MAX_ENTRY_BYTES = 16 * 1024 * 1024
LIST_CHANGED = '{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n'
FIRST_METHODS = ("initialize", "server/discover")  # a host's first request, answered from the last start
LIST = "tools/list"


def fingerprint(parts: Iterable[str | bytes | Path]) -> bytes:
    """A digest of ``parts``: strings and bytes as they are, a path by its name and content
    (a missing or unreadable file counts as such, so creating it later changes the digest)."""
    h = hashlib.sha256(FORMAT)
    for part in parts:
        if isinstance(part, Path):
            try:
                data = b"file:" + part.read_bytes()
            except OSError:
                data = b"missing"
            h.update(str(part).encode() + b"\0" + data)
        else:
            h.update(part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.digest()


def _id_key(rid: Any) -> str:
    return json.dumps(rid, sort_keys=True)


def _same(a: Any, b: Any) -> bool:
    """Request params as a host sends them: absent and ``{}`` are the same request."""
    return (a or {}) == (b or {})


class _Lines:
    """The SDK's stdin: ``readline`` returns the next queued line, ``""`` at end of input."""

    def __init__(self, front: EarlyFront) -> None:
        self._front = front

    def readline(self, size: int = -1) -> str:
        return self._front.next_line()


class _Out:
    """The SDK's stdout: each ``write`` is one JSON-RPC message and its newline."""

    def __init__(self, front: EarlyFront) -> None:
        self._front = front

    def write(self, text: str) -> int:
        self._front.from_sdk(text)
        return len(text)

    def flush(self) -> None:
        return None


class EarlyFront:
    def __init__(self, cache_dir: Path, inputs: bytes, *, in_fd: int = 0, out_fd: int = 1) -> None:
        self.cache_dir = cache_dir
        self.inputs = inputs
        self._in_fd, self._out_fd = in_fd, out_fd
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._lock = threading.Lock()  # early answering vs. the SDK taking over
        self._wlock = threading.Lock()  # one writer at a time on the wire
        self._sdk = False
        self._looked = 0
        self._key: str | None = None  # "" once the first request is not one this front knows
        self._entry: dict[str, Any] | None = None
        self._list_seen = False
        # request id -> (slot, method, params): the SDK answers to record ("first" / "tools")
        self._pending: dict[str, tuple[str, str, Any]] = {}
        self._told: dict[str, Any] = {}  # request id -> what the host was told early
        self._recorded: dict[str, Any] = {}
        self.answered: list[str] = []  # the methods answered early, in order
        self.on_event: Callable[[str, dict[str, Any]], None] = lambda event, fields: None
        self._thread: threading.Thread | None = None

    # -- start ---------------------------------------------------------------------------------------
    def claim_stdio(self) -> None:
        """Take fds 0 and 1 for the protocol, as the SDK's stdio transport does: fd 0 then reads the
        null device and fd 1 is stderr, so stray prints and children never touch the wire."""
        self._in_fd, self._out_fd = os.dup(0), os.dup(1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._read_loop, name="ucp-early-stdin", daemon=True)
        self._thread.start()

    # -- the SDK's side -------------------------------------------------------------------------------
    def streams(self) -> tuple[_Lines, _Out]:
        """Sync file objects for ``stdio_server(stdin=wrap_file(..), stdout=wrap_file(..))``."""
        return _Lines(self), _Out(self)

    def next_line(self) -> str:
        if not self._sdk:
            with self._lock:
                self._sdk = True  # from now on the SDK answers everything itself
        item = self._queue.get()
        if item is None:
            self._queue.put(None)  # end of input stays the end
            return ""
        return item

    def from_sdk(self, text: str) -> None:
        if self._pending:
            text = self._watch(text)
        if text:
            self._write(text)

    # -- reading --------------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        buf = bytearray()
        try:
            while True:
                chunk = os.read(self._in_fd, 65536)
                if not chunk:
                    break
                start = 0
                while (nl := chunk.find(b"\n", start)) >= 0:
                    buf += chunk[start : nl + 1]
                    self._line(bytes(buf))
                    buf.clear()
                    start = nl + 1
                buf += chunk[start:]
        except OSError:
            pass
        finally:
            if buf:
                self._line(bytes(buf))
            self._queue.put(None)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace")  # as the SDK's reader decodes
        if self._looked < PARSE_LINES:
            self._looked += 1
            try:
                self._look(text)
            except Exception as exc:  # never let the early path cost a message
                self.on_event("stdio_early_failed", {"error": type(exc).__name__})
        self._queue.put(text)

    def _look(self, text: str) -> None:
        if len(text) > MAX_LOOK_CHARS:
            return  # not a handshake; the SDK's transport deals with it
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            return
        if not isinstance(msg, dict) or "id" not in msg or not isinstance(msg.get("method"), str):
            return
        rid, method, params = msg["id"], msg["method"], msg.get("params")
        idk = _id_key(rid)
        with self._lock:
            if self._key is None:
                if method not in FIRST_METHODS:
                    self._key = ""  # not a handshake this front knows: the SDK does everything
                    return
                first = json.dumps([method, params], sort_keys=True).encode()
                self._key = hashlib.sha256(self.inputs + first).hexdigest()[:40]
                self._pending[idk] = ("first", method, params)
                if not self._sdk:
                    self._entry = self._load(self._key)
                    if self._entry is not None:
                        self._answer(rid, idk, method, self._entry["first"])
            elif self._key and method == LIST and not self._list_seen:
                if isinstance(params, dict) and params.get("cursor") is not None:
                    return
                self._list_seen = True
                self._pending[idk] = ("tools", method, params)
                entry = self._entry or {}
                tools = entry.get("tools")
                same_request = _same(entry.get("list_params"), params)
                if isinstance(tools, dict) and same_request and self.answered and not self._sdk:
                    self._answer(rid, idk, method, tools)

    def _answer(self, rid: Any, idk: str, method: str, result: Any) -> None:
        self._told[idk] = result
        self.answered.append(method)
        self._write(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}, separators=(",", ":")) + "\n")

    # -- writing --------------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        data = memoryview(text.encode("utf-8"))
        with self._wlock:
            while data:
                n = os.write(self._out_fd, data)
                data = data[n:]

    def _watch(self, text: str) -> str:
        """An SDK message while its answers to the handshake are awaited: record them; drop the
        ones the host already has (a different tool list becomes ``list_changed``)."""
        try:
            msg = json.loads(text)
        except ValueError:
            return text
        if not isinstance(msg, dict) or "id" not in msg or "method" in msg:
            return text
        idk = _id_key(msg["id"])
        with self._lock:
            pending = self._pending.pop(idk, None)
            if pending is None:
                return text
            slot, method, params = pending
            if "result" in msg:
                self._recorded[slot] = msg["result"]
                if slot == "tools":
                    self._recorded["list_params"] = params
                self._save()
            if idk not in self._told:
                return text
            told = self._told.pop(idk)
        same = "result" in msg and msg["result"] == told
        self.on_event("stdio_early_answer", {"request": method, "same": same})
        if method == LIST and not same:
            return LIST_CHANGED  # the host asks again and gets the SDK's list
        return ""

    # -- the cache ------------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.cache_dir / f"{key}.json"

    def _load(self, key: str) -> dict[str, Any] | None:
        try:
            path = self._path(key)
            if path.stat().st_size > MAX_ENTRY_BYTES:
                return None
            entry = json.loads(path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("first"), dict):
            return None
        return entry

    def _save(self) -> None:
        if not self._key or "first" not in self._recorded:
            return
        entry = dict(self._recorded)
        if self._entry == entry:
            return
        self._entry = entry
        with contextlib.suppress(OSError):
            atomic_write_text(self._path(self._key), json.dumps(entry, separators=(",", ":")))  # 0600
            self._prune()

    def _prune(self) -> None:
        files = sorted(self.cache_dir.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[MAX_ENTRIES:]:
            with contextlib.suppress(OSError):
                old.unlink()


def inputs_of(
    *,
    version: str,
    argv: Iterable[str],
    files: Iterable[Path],
    lists_dir: Path,
    env: dict[str, str],
) -> bytes:
    """What the handshake answers depend on, as one digest (see the module docstring)."""
    try:
        lists = sorted(p for p in lists_dir.iterdir() if p.suffix == ".json")
    except OSError:
        lists = []
    env_parts = [f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("UCP_")]
    return fingerprint([version, "\0".join(argv), *files, "lists", *lists, "env", *env_parts])
