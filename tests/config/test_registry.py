"""RegistryStore: transactions on ucp.toml (validated, atomic, locked, nothing lost)."""

from __future__ import annotations

import json
import stat
import threading
import tomllib
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import filelock
import pytest

from ucp.config.loader import read_config_file
from ucp.config.models import StdioServer
from ucp.config.registry import (
    RegistryStore,
    build_server,
    check_url,
    host_only_refs,
    parse_pairs,
    server_to_toml,
)
from ucp.errors import ConfigError, DuplicateServerError, RegistryError, UnknownServerError

SEED = (
    '[exposure]\nmode = "search"\nfull_threshold = 30\n\n[servers.a]\ncommand = "a"\nargs = ["${HOME_DIR}"]\n'
)


def stdio(name: str, **kw: object) -> StdioServer:
    return StdioServer(name=name, command="cmd", **kw)


@pytest.fixture
def store(tmp_path: Path) -> RegistryStore:
    path = tmp_path / "home" / "ucp.toml"
    path.parent.mkdir()
    path.write_text(SEED)
    return RegistryStore(path)


def test_missing_file_is_an_empty_registry_and_is_created_on_add(tmp_path: Path) -> None:
    store = RegistryStore(tmp_path / "new" / "ucp.toml")
    assert store.load().servers == {}
    assert not store.path.exists()
    store.add(stdio("x"))
    assert list(read_config_file(store.path).config.servers) == ["x"]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600  # may hold header secrets


def test_add_preserves_settings_and_references(store: RegistryStore) -> None:
    assert store.add(build_server("b", command=["run", "${X}"], env={"TOKEN": "${TOKEN}"})) is False
    data = tomllib.loads(store.path.read_text())
    assert data["exposure"] == {
        "mode": "search",
        "full_threshold": 30,
    }  # even a default value stays as written
    assert data["servers"]["a"] == {
        "command": "a",
        "args": ["${HOME_DIR}"],
    }  # untouched entries stay as written
    assert data["servers"]["b"] == {
        "type": "stdio",
        "command": "run",
        "args": ["${X}"],
        "env": {"TOKEN": "${TOKEN}"},
    }
    config = read_config_file(store.path).config
    assert config.exposure.mode == "search"
    assert config.servers["b"].env == {"TOKEN": "${TOKEN}"}  # type: ignore[union-attr]


def test_duplicate_and_replace(store: RegistryStore) -> None:
    before = store.path.read_bytes()
    with pytest.raises(DuplicateServerError) as info:
        store.add(stdio("a"))
    assert info.value.code == "duplicate_server"
    assert store.path.read_bytes() == before
    assert store.add(stdio("a", args=("new",)), replace=True) is True
    assert store.get("a").args == ("new",)  # type: ignore[union-attr]


def test_remove_and_unknown(store: RegistryStore) -> None:
    with pytest.raises(UnknownServerError) as info:
        store.remove("aa")
    assert info.value.details["suggestions"] == ["a"]
    removed = store.remove("a")
    assert removed.name == "a"
    assert store.load().servers == {}
    assert tomllib.loads(store.path.read_text())["exposure"]["mode"] == "search"


def test_set_enabled(store: RegistryStore) -> None:
    assert store.set_enabled("a", False) is True
    assert store.get("a").enabled is False
    before = store.path.read_bytes()
    mtime = store.path.stat().st_mtime_ns
    assert store.set_enabled("a", False) is False
    assert store.path.read_bytes() == before
    assert store.path.stat().st_mtime_ns == mtime  # no write at all: no reload in `ucp serve`
    assert store.set_enabled("a", True) is True
    assert "enabled" not in tomllib.loads(store.path.read_text())["servers"]["a"]
    with pytest.raises(UnknownServerError):
        store.set_enabled("zz", True)


def test_whole_config_is_validated_before_writing(store: RegistryStore) -> None:
    before = store.path.read_bytes()
    with pytest.raises(ConfigError) as info:
        store.add(stdio("cloud"))  # taken by the built-ins: only the whole-config check sees it
    assert info.value.entry == "cloud"
    assert store.path.read_bytes() == before
    assert not list(store.path.parent.glob(".ucp.toml.*.tmp"))  # no temp file left behind


def test_an_invalid_file_is_never_rewritten(store: RegistryStore) -> None:
    store.path.write_text('[servers.a]\ncommand = "a"\ntimeout = -1\n')
    before = store.path.read_bytes()
    with pytest.raises(ConfigError) as info:
        store.add(stdio("b"))
    assert info.value.field == "timeout"
    assert store.path.read_bytes() == before
    store.path.write_text("not = [toml")
    before = store.path.read_bytes()
    with pytest.raises(ConfigError, match="invalid TOML"):
        store.remove("a")
    assert store.path.read_bytes() == before


@pytest.mark.parametrize("content", ['{"mcpServers": {}}', '{"servers": {}}'])
def test_json_files_are_read_only(tmp_path: Path, content: str) -> None:
    for path in (tmp_path / "host.json", tmp_path / "host.conf"):
        path.write_text(content)
        store = RegistryStore(path)
        with pytest.raises(RegistryError) as info:
            store.add(stdio("x"))
        assert str(path) in info.value.message
        assert "ucp.toml" in info.value.message
        assert path.read_text() == content


def test_lock_timeout_is_a_clear_error(store: RegistryStore) -> None:
    before = store.path.read_bytes()
    held = filelock.FileLock(f"{store.path}.lock")
    ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        with held:
            ready.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert ready.wait(10)
        with pytest.raises(RegistryError, match="locked"):
            RegistryStore(store.path, lock_timeout=0.2).add(stdio("b"))
    finally:
        release.set()
        thread.join(10)
    assert store.path.read_bytes() == before


def test_writes_are_atomic_replacements(store: RegistryStore) -> None:
    inode = store.path.stat().st_ino
    store.add(stdio("b"))
    assert store.path.stat().st_ino != inode  # a new file renamed over the old one


def _add_many(path: str, prefix: str, count: int) -> None:
    store = RegistryStore(Path(path), lock_timeout=60)
    for i in range(count):
        store.add(StdioServer(name=f"{prefix}{i}", command="cmd"))


def test_parallel_adds_from_threads_lose_nothing(store: RegistryStore) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda t: _add_many(str(store.path), f"t{t}-", 5), range(8)))
    names = set(store.load().servers)
    assert names == {"a"} | {f"t{t}-{i}" for t in range(8) for i in range(5)}


@pytest.mark.integration  # real process, socket or model
def test_parallel_adds_from_processes_lose_nothing(store: RegistryStore) -> None:
    with ProcessPoolExecutor(4, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_add_many, str(store.path), f"p{p}-", 5) for p in range(4)]
        for f in futures:
            f.result(timeout=120)
    assert set(store.load().servers) == {"a"} | {f"p{p}-{i}" for p in range(4) for i in range(5)}


# ---------------------------------------------------------------- import
HOST = {
    "mcpServers": {
        "time": {"command": "mcp-server-time"},
        "a": {"command": "other"},
        "My Server": {"url": "https://e.com/mcp"},
        "cloud": {"command": "c"},
        "ucp": {"command": "ucp"},
        "vs": {"command": "x", "env": {"K": "${input:key}"}},
    }
}


def test_import_host(store: RegistryStore) -> None:
    report = store.import_host(HOST, source="claude.json")
    assert report.added == ["time", "My_Server"]
    assert report.renamed == {"My Server": "My_Server"}
    assert {s.name for s in report.skipped} == {"a", "cloud", "ucp", "vs"}
    assert report.written
    assert set(store.load().servers) == {"a", "time", "My_Server"}
    assert store.get("a").command == "a"  # type: ignore[union-attr]
    json.dumps(report.to_dict())


def test_import_replace_and_dry_run(store: RegistryStore) -> None:
    before = store.path.read_bytes()
    report = store.import_host(HOST, replace=True, dry_run=True)
    assert report.replaced == ["a"]
    assert not report.written
    assert store.path.read_bytes() == before
    store.import_host(HOST, replace=True)
    assert store.get("a").command == "other"  # type: ignore[union-attr]


def test_import_vscode_and_bad_input(store: RegistryStore) -> None:
    report = store.import_host({"servers": {"v": {"type": "http", "url": "https://e.com/mcp"}}})
    assert report.format == "vscode"
    assert report.added == ["v"]
    bad: object
    for bad in ([], {"other": 1}, {"mcpServers": []}):
        with pytest.raises(ConfigError):
            store.import_host(bad)


def test_import_nothing_new_writes_nothing(store: RegistryStore) -> None:
    before = store.path.stat().st_mtime_ns
    report = store.import_host({"mcpServers": {"a": {"command": "a"}}})
    assert report.added == []
    assert not report.written
    assert store.path.stat().st_mtime_ns == before


# ---------------------------------------------------------------- building entries
def test_build_server_and_helpers() -> None:
    server = build_server("h", url="https://e.com/mcp", headers={"A": "b"}, extra={"description": "d"})
    assert server_to_toml(server) == {
        "type": "http",
        "description": "d",
        "url": "https://e.com/mcp",
        "headers": {"A": "b"},
    }
    assert build_server("s", url="https://e.com/sse").type == "sse"
    assert parse_pairs(["A=1=2", "B="], sep="=", what="env") == {"A": "1=2", "B": ""}
    assert parse_pairs(["Authorization:  Bearer x "], sep=":", what="header") == {"Authorization": "Bearer x"}
    assert check_url("http://localhost:1/mcp")
    assert host_only_refs(stdio("x", env={"A": "${input:a}", "B": "${env:B}", "C": "${C}"})) == ["${input:a}"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"command": ["a"], "url": "https://e.com"},
        {"url": "e.com/mcp"},
        {"url": "https://:80/x"},
        {"command": ["a"], "transport": "http"},
        {"url": "https://e.com", "cwd": "/tmp"},
        {"command": ["a"], "extra": {"timeout": -1}},
    ],
)
def test_build_server_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        build_server("x", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("items", "sep", "what"),
    [(["NOEQ"], "=", "env"), (["=v"], "=", "env"), (["a-b=1"], "=", "env"), (["nocolon"], ":", "header")],
)
def test_parse_pairs_rejects(items: list[str], sep: str, what: str) -> None:
    with pytest.raises(ConfigError):
        parse_pairs(items, sep=sep, what=what)


# ---------------------------------------------------------------- round trip and command resolution
def test_writes_keep_comments_and_layout(tmp_path: Path) -> None:
    from ucp.config.models import StdioServer
    from ucp.config.registry import RegistryStore

    path = tmp_path / "ucp.toml"
    original = (
        '# my registry\n\n[exposure]\nmode = "search"  # hosts ignore list_changed\n\n'
        '[servers.time]  # the clock\ncommand = "/bin/time-server"\n'
    )
    path.write_text(original)
    store = RegistryStore(path)
    store.add(StdioServer(name="git", command="/bin/git-server"))
    text = path.read_text()
    assert text.startswith(original)  # every byte before the new entry unchanged
    assert "[servers.git]" in text
    store.set_enabled("time", False)
    store.remove("git")
    text = path.read_text()
    assert "# my registry" in text and "# hosts ignore list_changed" in text and "# the clock" in text
    assert "enabled = false" in text


def _exe(folder: Path, name: str, body: str = "#!/bin/sh\nexit 0\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body)
    path.chmod(0o755)
    return path


def test_resolve_command(tmp_path: Path) -> None:
    from ucp.config.models import HttpServer, StdioServer
    from ucp.config.registry import resolve_command

    tool = _exe(tmp_path / "bin", "srv")
    server, note = resolve_command(StdioServer(name="s", command="srv", args=("a",)), path=str(tool.parent))
    assert isinstance(server, StdioServer)
    assert server.command == str(tool) and server.args == ("a",)
    assert note is not None and str(tool) in note
    missing, note = resolve_command(StdioServer(name="s", command="nope-not-here"), path=str(tool.parent))
    assert isinstance(missing, StdioServer) and missing.command == "nope-not-here"
    assert note is not None and "not on PATH" in note
    _, note = resolve_command(StdioServer(name="s", command=str(tmp_path / "gone")))
    assert note is not None and "does not exist" in note
    same, note = resolve_command(StdioServer(name="s", command=str(tool)))
    assert note is None and isinstance(same, StdioServer) and same.command == str(tool)
    ref, note = resolve_command(StdioServer(name="s", command="${TOOL}"))
    assert note is None and isinstance(ref, StdioServer) and ref.command == "${TOOL}"
    remote = HttpServer(name="h", url="https://e.com/mcp")
    assert resolve_command(remote) == (remote, None)


def test_resolve_command_gives_env_shebang_scripts_their_interpreter(tmp_path: Path) -> None:
    """An npm-installed server is '#!/usr/bin/env node': a host's minimal PATH has no node."""
    from ucp.config.models import StdioServer
    from ucp.config.registry import resolve_command

    interpreter = _exe(tmp_path / "nvm" / "bin", "ucp-test-node-interp")
    script = _exe(tmp_path / "nvm" / "bin", "my-server", "#!/usr/bin/env ucp-test-node-interp\n")
    server, note = resolve_command(StdioServer(name="s", command="my-server"), path=str(script.parent))
    assert isinstance(server, StdioServer)
    assert server.command == str(script)
    assert server.env["PATH"] == f"{interpreter.parent}:${{PATH}}"
    assert note is not None and "ucp-test-node-interp" in note
