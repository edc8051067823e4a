"""The unit-tier rule of ``tests/conftest.py`` bites: an unmarked test that starts a process,
opens an internet socket or loads the embedding model fails, even if the code under test
swallows the error; marked tests may do all three; every test gets a timeout."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from multiprocessing import get_context
from pathlib import Path

import pytest

from tests.conftest import MARKED_TIMEOUT, SLOW_TIMEOUT, UNIT_TIMEOUT, UnitTierViolation, _unit_guard
from ucp.router.embedder import SentenceTransformerEmbedder


def _fails_with(what: str) -> contextlib.AbstractContextManager[object]:
    return pytest.raises(pytest.fail.Exception, match=what)


def test_starting_a_process_fails_even_when_swallowed(request: pytest.FixtureRequest) -> None:
    with _fails_with("starting a process"), _unit_guard(request.node), contextlib.suppress(Exception):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


def test_multiprocessing_spawn_is_a_process_too(request: pytest.FixtureRequest) -> None:
    with _fails_with("starting a process"), _unit_guard(request.node):
        proc = get_context("spawn").Process(target=print)
        with pytest.raises(UnitTierViolation):
            proc.start()


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_internet_sockets_fail(request: pytest.FixtureRequest, family: socket.AddressFamily) -> None:
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    with (
        _fails_with("bind of an AF_INET"),
        _unit_guard(request.node),
        socket.socket(family, socket.SOCK_STREAM) as sock,
        pytest.raises(UnitTierViolation),
    ):
        sock.bind((host, 0))


def test_connect_fails(request: pytest.FixtureRequest) -> None:
    with (
        _fails_with("connect of an AF_INET socket"),
        _unit_guard(request.node),
        socket.socket() as sock,
        contextlib.suppress(UnitTierViolation),
    ):
        sock.connect(("127.0.0.1", 9))


def test_loading_the_model_fails(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    with (
        _fails_with("loading the embedding model"),
        _unit_guard(request.node),
        pytest.raises(UnitTierViolation),
    ):
        SentenceTransformerEmbedder(str(tmp_path)).load()


def test_in_memory_sockets_and_files_are_fine(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    with _unit_guard(request.node):
        a, b = socket.socketpair()
        with a, b:
            a.sendall(b"ping")
            assert b.recv(4) == b"ping"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
            unix.bind(str(tmp_path / "s"))
    assert (tmp_path / "s").exists()


def test_the_guard_restores_what_it_patched(request: pytest.FixtureRequest) -> None:
    before = (subprocess.Popen._execute_child, socket.socket.connect)  # type: ignore[attr-defined]
    with _unit_guard(request.node):
        pass
    assert (subprocess.Popen._execute_child, socket.socket.connect) == before  # type: ignore[attr-defined]


@pytest.mark.integration
def test_marked_tests_may_start_processes_and_open_sockets() -> None:
    assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))


def test_unit_tests_get_the_short_timeout(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None and marker.args == (UNIT_TIMEOUT,)
    assert UNIT_TIMEOUT < MARKED_TIMEOUT < SLOW_TIMEOUT


@pytest.mark.integration
def test_integration_tests_get_the_long_timeout(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None and marker.args == (MARKED_TIMEOUT,)


@pytest.mark.slow
def test_slow_tests_get_the_longest_timeout(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None and marker.args == (SLOW_TIMEOUT,)


@pytest.mark.timeout(7)
def test_an_explicit_timeout_wins(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None and marker.args == (7,)
