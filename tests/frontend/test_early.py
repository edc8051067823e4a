"""The early stdio front: answers a host's handshake from the last start's answers, loses nothing."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ucp.frontend import early
from ucp.frontend.early import EarlyFront, fingerprint, inputs_of

INIT = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "host", "version": "1"}}
INIT_RESULT = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {"listChanged": True}}, "serverInfo": {"name": "ucp", "version": "0"}}  # fmt: skip
TOOLS = {"tools": [{"name": "time__now", "inputSchema": {"type": "object"}}]}


def _req(rid: Any, method: str, params: Any = None) -> str:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        msg["params"] = params
    return json.dumps(msg) + "\n"


def _resp(rid: Any, result: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}) + "\n"


class Wire:
    """A host on the other end of two pipes, and the front between it and the 'SDK' (the test)."""

    def __init__(self, cache: Path, inputs: bytes = b"inputs") -> None:
        r, self.host_w_fd = os.pipe()
        self.out_r, out_w = os.pipe()
        self.front = EarlyFront(cache, inputs, in_fd=r, out_fd=out_w)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.front.on_event = lambda event, fields: self.events.append((event, fields))
        self.front.start()
        self._out = os.fdopen(self.out_r, "rb")
        self._fds = [r, out_w]
        _OPEN.append(self)

    def close(self) -> None:
        for fd in [self.host_w_fd, *self._fds]:
            try:
                os.close(fd)
            except OSError:
                pass
        self._out.close()

    def host_sends(self, *lines: str) -> None:
        os.write(self.host_w_fd, "".join(lines).encode())

    def host_closes(self) -> None:
        os.close(self.host_w_fd)
        self.host_w_fd = -1

    def host_reads(self) -> dict[str, Any]:
        line = self._out.readline()
        assert line, "the front closed the wire"
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    def host_pending(self) -> bytes:
        """Whatever the host could read right now (without waiting)."""
        os.set_blocking(self.out_r, False)
        try:
            return self._out.read() or b""
        finally:
            os.set_blocking(self.out_r, True)

    def sdk_reads(self) -> str:
        return self.front.next_line()

    def wait_queued(self, n: int) -> None:
        """Wait until the reader thread has handled ``n`` lines."""
        for _ in range(500):
            if self.front._queue.qsize() >= n:
                return
            threading.Event().wait(0.01)
        raise AssertionError(f"{n} lines never arrived")


_OPEN: list[Wire] = []


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "early"
    while _OPEN:
        wire = _OPEN.pop()
        wire.close()
        if wire.front._thread is not None:
            wire.front._thread.join(5)


def _first_start(cache: Path, inputs: bytes = b"inputs", init: dict[str, Any] = INIT) -> None:
    """A start with nothing cached: the SDK answers, the front records."""
    w = Wire(cache, inputs)
    w.host_sends(_req(1, "initialize", init), _req(2, "tools/list"))
    w.wait_queued(2)
    assert w.front.answered == []
    assert json.loads(w.sdk_reads())["method"] == "initialize"
    w.front.from_sdk(_resp(1, INIT_RESULT))
    assert w.host_reads() == {"jsonrpc": "2.0", "id": 1, "result": INIT_RESULT}
    assert json.loads(w.sdk_reads())["method"] == "tools/list"
    w.front.from_sdk(_resp(2, TOOLS))
    assert w.host_reads()["result"] == TOOLS


def test_a_first_start_answers_nothing_itself_and_records_the_sdks_answers(cache: Path) -> None:
    _first_start(cache)
    (entry,) = list(cache.glob("*.json"))
    assert json.loads(entry.read_text()) == {"first": INIT_RESULT, "tools": TOOLS, "list_params": None}
    assert entry.stat().st_mode & 0o077 == 0


def test_the_next_start_answers_the_handshake_before_the_sdk_reads(cache: Path) -> None:
    _first_start(cache)
    w = Wire(cache)
    w.host_sends(_req(7, "initialize", INIT))
    assert w.host_reads() == {"jsonrpc": "2.0", "id": 7, "result": INIT_RESULT}  # the SDK has not read yet
    w.host_sends('{"jsonrpc":"2.0","method":"notifications/initialized"}\n', _req("t", "tools/list"))
    assert w.host_reads() == {"jsonrpc": "2.0", "id": "t", "result": TOOLS}
    assert w.front.answered == ["initialize", "tools/list"]
    # the SDK still gets every line, in order, and its answers to those two are not sent again
    assert json.loads(w.sdk_reads())["id"] == 7
    assert "initialized" in w.sdk_reads()
    assert json.loads(w.sdk_reads())["id"] == "t"
    w.front.from_sdk(_resp(7, INIT_RESULT))
    w.front.from_sdk(_resp("t", TOOLS))
    w.host_sends(_req(8, "tools/call", {"name": "time__now"}))
    assert json.loads(w.sdk_reads())["id"] == 8
    w.front.from_sdk(_resp(8, {"content": []}))
    assert w.host_reads()["id"] == 8  # the next thing the host sees: nothing was duplicated
    assert [e for e, _ in w.events] == ["stdio_early_answer", "stdio_early_answer"]
    assert all(f["same"] for _, f in w.events)


def test_a_different_live_list_is_announced_and_recorded(cache: Path) -> None:
    _first_start(cache)
    w = Wire(cache)
    w.host_sends(_req(1, "initialize", INIT), _req(2, "tools/list"))
    assert w.host_reads()["id"] == 1
    assert w.host_reads()["result"] == TOOLS
    w.sdk_reads(), w.sdk_reads()
    w.front.from_sdk(_resp(1, INIT_RESULT))
    fresh = {"tools": [*TOOLS["tools"], {"name": "time__convert", "inputSchema": {"type": "object"}}]}
    w.front.from_sdk(_resp(2, fresh))
    assert w.host_reads() == {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    assert ("stdio_early_answer", {"request": "tools/list", "same": False}) in w.events
    (entry,) = list(cache.glob("*.json"))
    assert json.loads(entry.read_text())["tools"] == fresh  # the start after this one lists it


@pytest.mark.parametrize(
    "change",
    [
        {"inputs": b"another config"},
        {"init": {**INIT, "clientInfo": {"name": "other-host", "version": "1"}}},
        {"init": {**INIT, "protocolVersion": "2025-11-25"}},
    ],
)
def test_any_change_in_what_the_answers_depend_on_is_a_miss(cache: Path, change: dict[str, Any]) -> None:
    _first_start(cache)
    w = Wire(cache, change.get("inputs", b"inputs"))
    w.host_sends(_req(1, "initialize", change.get("init", INIT)), _req(2, "tools/list"))
    w.wait_queued(2)
    assert w.front.answered == []
    assert w.host_pending() == b""


def test_nothing_is_answered_once_the_sdk_reads(cache: Path) -> None:
    _first_start(cache)
    w = Wire(cache)
    reader = threading.Thread(target=lambda: w.sdk_reads())  # the SDK is up and waiting for input
    reader.start()
    threading.Event().wait(0.05)
    w.host_sends(_req(1, "initialize", INIT))
    reader.join(5)
    assert w.front.answered == []
    assert w.host_pending() == b""


def test_a_paged_list_and_other_requests_are_left_to_the_sdk(cache: Path) -> None:
    _first_start(cache)
    w = Wire(cache)
    w.host_sends(_req(1, "initialize", INIT), _req(2, "tools/list", {"cursor": "p2"}))
    w.host_sends(_req(3, "ping"), "not json\n", '{"jsonrpc":"2.0","id":4,"method":"tools/list"}')
    w.host_closes()
    assert w.host_reads()["id"] == 1
    assert w.host_reads()["id"] == 4  # the first un-paged list after initialize; a last line needs no newline
    lines = [w.sdk_reads() for _ in range(5)]
    assert lines[3].strip() == "not json"
    assert json.loads(lines[4])["id"] == 4
    assert w.sdk_reads() == "" and w.sdk_reads() == ""  # end of input stays the end
    assert w.front.answered == ["initialize", "tools/list"]


def test_a_host_that_does_not_start_with_a_handshake_gets_only_the_sdk(cache: Path) -> None:
    _first_start(cache)
    w = Wire(cache)
    w.host_sends(_req(0, "tools/list"), _req(1, "initialize", INIT), _req(2, "tools/list"))
    w.wait_queued(3)
    assert w.front.answered == [] and w.host_pending() == b""


def test_a_2026_era_host_gets_discover_and_its_list_early(cache: Path) -> None:
    meta = {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": {"name": "host", "version": "2"}}}  # fmt: skip
    discovered = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}}
    w = Wire(cache)
    w.host_sends(_req(1, "server/discover", meta), _req(2, "tools/list", meta))
    w.wait_queued(2)
    assert w.front.answered == []
    w.sdk_reads(), w.sdk_reads()
    w.front.from_sdk(_resp(1, discovered))
    w.front.from_sdk(_resp(2, TOOLS))
    assert w.host_reads()["result"] == discovered and w.host_reads()["result"] == TOOLS

    again = Wire(cache)
    again.host_sends(_req("a", "server/discover", meta), _req("b", "tools/list", meta))
    assert again.host_reads() == {"jsonrpc": "2.0", "id": "a", "result": discovered}
    assert again.host_reads() == {"jsonrpc": "2.0", "id": "b", "result": TOOLS}
    assert again.front.answered == ["server/discover", "tools/list"]
    other = {
        "_meta": {**meta["_meta"], "io.modelcontextprotocol/clientInfo": {"name": "host", "version": "3"}}
    }
    third = Wire(cache)
    third.host_sends(
        _req("a", "server/discover", meta), _req("b", "tools/list", other)
    )  # not the list it asked
    assert third.host_reads()["id"] == "a"
    third.wait_queued(2)
    assert third.front.answered == ["server/discover"] and third.host_pending() == b""


def test_huge_or_hostile_first_lines_pass_through_unread(cache: Path) -> None:
    _first_start(cache)
    w = Wire(cache)
    huge = _req(1, "initialize", {**INIT, "pad": "x" * (early.MAX_LOOK_CHARS + 1)})
    deep = "[" * 100_000 + "\n"
    threading.Thread(target=w.host_sends, args=(huge, deep)).start()  # more than a pipe holds
    assert w.sdk_reads() == huge and w.sdk_reads() == deep
    assert w.front.answered == [] and w.events == []


def test_a_broken_cache_entry_is_a_miss(cache: Path) -> None:
    _first_start(cache)
    (entry,) = list(cache.glob("*.json"))
    for bad in (b"{not json", b'{"first": 3}', b"[" * 100_000):
        entry.write_bytes(bad)
        w = Wire(cache)
        w.host_sends(_req(1, "initialize", INIT))
        w.wait_queued(1)
        assert w.front.answered == [] and w.host_pending() == b""


def test_only_the_first_lines_are_looked_at(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _first_start(cache)
    monkeypatch.setattr(early, "PARSE_LINES", 2)
    w = Wire(cache)
    w.host_sends(_req(1, "ping"), _req(2, "ping"), _req(3, "initialize", INIT))
    w.wait_queued(3)
    assert w.front.answered == []


def test_old_entries_are_pruned(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(early, "MAX_ENTRIES", 2)
    for i in range(4):
        _first_start(cache, inputs=f"config {i}".encode())
        os.utime(next(iter(sorted(cache.glob("*.json"), key=os.path.getmtime))), (i, i))
    assert len(list(cache.glob("*.json"))) == 2


def test_the_fingerprint_covers_files_their_absence_and_ucp_variables(tmp_path: Path) -> None:
    cfg, lists = tmp_path / "ucp.toml", tmp_path / "lists"

    def digest(argv: tuple[str, ...] = ("serve",), env: dict[str, str] | None = None) -> bytes:
        env = {"UCP_HOME": "/h", "PATH": "/a"} if env is None else env
        return inputs_of(version="1", argv=argv, files=[cfg], lists_dir=lists, env=env)

    missing = digest()
    cfg.write_text("builtins = true\n")
    with_file = digest()
    assert missing != with_file
    lists.mkdir()
    (lists / "time.json").write_text("{}")
    with_lists = digest()
    assert with_lists != with_file
    (lists / "time.json").write_text('{"tools": []}')
    assert digest() != with_lists
    with_lists = digest()
    assert digest(env={"UCP_HOME": "/h", "PATH": "/b"}) == with_lists  # only UCP_* variables count
    assert digest(env={"UCP_HOME": "/other"}) != with_lists
    assert digest(argv=("serve", "--mode", "search")) != with_lists
    assert fingerprint(["a", "b"]) != fingerprint(["ab"])
