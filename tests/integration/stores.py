"""Real Redis and PostgreSQL servers for the scale-out integration tests (``make services`` installs them).

- ``redis_server`` (session): a ``redis-server`` on a free loopback port, no persistence, its files in
  a temporary directory; ``restart()``/``stop()``/``start()`` for outage tests (same port).
- ``redis_url`` (per test): that server's URL, the database flushed first.
- ``postgres_server`` (session): a throwaway cluster (``initdb`` into a temporary directory, run as the
  ``postgres`` user when the tests run as root: PostgreSQL refuses root), ``fsync=off``;
  ``stop()`` (fast shutdown) / ``start()`` for outage tests.
- ``postgres_url`` (per test): a fresh, empty database on it.

Only tests marked ``integration`` may use them (a unit test asking for one fails at once).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import pytest

_dbs = count(1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _require_integration(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("integration") is None:
        pytest.fail("the Redis/PostgreSQL fixtures start real servers: mark the test integration")


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


@dataclass
class RedisServer:
    """A ``redis-server`` child process; ``url`` stays the same across restarts."""

    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()  # more redis-server arguments, e.g. ("--requirepass", "pw")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed: run `make services`")
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.proc, "redis-server")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"*1\r\n$8\r\nFLUSHALL\r\n")
            assert s.recv(64).startswith(b"+OK")


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]  # the newest installed major version
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"PostgreSQL's {name} is not installed: run `make services`")
    return exe


def _as_postgres() -> dict[str, Any]:
    """Popen arguments running a command as ``postgres`` when we are root (PostgreSQL refuses root)."""
    return {"user": "postgres", "group": "postgres", "extra_groups": []} if os.geteuid() == 0 else {}


@dataclass
class PostgresServer:
    port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    databases: list[str] = field(default_factory=list)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        data = self.dir / "data"
        if not data.exists():
            initdb = [_pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]
            subprocess.run(
                [*initdb, "-E", "UTF8", "--locale=C"],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                **_as_postgres(),
            )
        settings = [
            "listen_addresses=127.0.0.1",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
        ]
        self.proc = subprocess.Popen(
            [_pg_bin("postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.dir)]
            + [arg for setting in settings for arg in ("-c", setting)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **_as_postgres(),
        )
        _wait_port(self.port, self.proc, "postgres")
        self._ready()

    def _ready(self, timeout: float = 20.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self) -> str:
        import psycopg

        name = f"ucp_test_{os.getpid()}_{next(_dbs)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return self.url(name)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: do not wait for clients to leave
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


def _tmpdir(prefix: str) -> Path:
    # not pytest's tmp_path: its parents are private to root, and postgres must reach its data dir
    d = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(d, "postgres", "postgres")
    return d


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    d = Path(tempfile.mkdtemp(prefix="ucp-redis-"))
    server = RedisServer(free_port(), d)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def redis_url(request: pytest.FixtureRequest, redis_server: RedisServer) -> str:
    _require_integration(request)
    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()  # an outage test left it stopped
    redis_server.flush()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    d = _tmpdir("ucp-pg-")
    server = PostgresServer(free_port(), d)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, postgres_server: PostgresServer) -> str:
    _require_integration(request)
    return postgres_server.create_database()
