"""Shared test configuration, and the two rules of the test tiers enforced rather than trusted.

- Async tests run on anyio's asyncio backend only (the utcp package uses asyncio directly).
- A test not marked ``integration`` or ``slow`` is a unit test: it runs in memory. While it runs
  (set-up, call and tear-down) starting a process, opening an internet socket (``AF_INET``/
  ``AF_INET6``: ``socketpair`` and Unix sockets stay allowed, the event loop needs them) or
  loading the embedding model fails the test, so ``make unit`` stays fast and hermetic by
  construction. The guard raises where the forbidden call is made and also fails the test
  afterwards, so code that swallows the exception cannot hide the breach.
- Timeouts: a unit test gets ``UNIT_TIMEOUT`` seconds, an integration test ``MARKED_TIMEOUT``, a
  ``slow`` one ``SLOW_TIMEOUT`` (all
  far above the slowest test measured, see CONTRIBUTING.md), unless it sets its own
  ``@pytest.mark.timeout``. A hang fails fast instead of eating the CI budget.
"""

from __future__ import annotations

import _posixsubprocess
import contextlib
import os
import socket
import subprocess
import traceback
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

with contextlib.suppress(ImportError):
    # urllib3 probes IPv6 by binding ::1 when first imported: let that happen here, not in a test
    import urllib3.util.connection  # noqa: F401

UNIT_TIMEOUT = 60
MARKED_TIMEOUT = 300
SLOW_TIMEOUT = 900  # the full cloud backtest passed 300 s under coverage on a loaded machine
MARKED = ("integration", "slow")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def is_unit(item: pytest.Item) -> bool:
    return not any(item.get_closest_marker(m) for m in MARKED)


def timeout_for(item: pytest.Item) -> int:
    if is_unit(item):
        return UNIT_TIMEOUT
    return SLOW_TIMEOUT if item.get_closest_marker("slow") else MARKED_TIMEOUT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(timeout_for(item)))


class UnitTierViolation(RuntimeError):
    """A unit test did what only a marked test may do."""


_INET = (socket.AF_INET, socket.AF_INET6)
_INHERITED = object()  # the attribute came from a base class: restore by deleting ours


def _where() -> str:
    """The innermost frame of the project's own code (or of anything, failing that)."""
    frames = traceback.extract_stack()[:-2]  # not _where and the guard itself
    ours = [
        f for f in frames if f"{os.sep}ucp{os.sep}" in f.filename or f"{os.sep}tests{os.sep}" in f.filename
    ]
    f = (ours or frames)[-1]
    return f"{os.path.relpath(f.filename)}:{f.lineno}"


def _patches(record: Callable[[str], None]) -> list[tuple[Any, str, Callable[..., Any]]]:
    """(owner, attribute, replacement) for each forbidden entry point."""

    def forbid(what: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            record(f"{what} ({_where()})")
            raise UnitTierViolation(f"{what} in a unit test: mark it @pytest.mark.integration")

        return refuse

    def inet_only(what: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
            if sock.family in _INET:
                record(f"{what} of an {sock.family.name} socket ({_where()})")
                raise UnitTierViolation(f"socket {what} in a unit test: mark it @pytest.mark.integration")
            return original(sock, *args, **kwargs)

        return guarded

    patches: list[tuple[Any, str, Callable[..., Any]]] = [
        # every process start goes through here: subprocess.run/Popen, asyncio and anyio subprocesses
        (subprocess.Popen, "_execute_child", forbid("starting a process")),
        # what multiprocessing's spawn and forkserver contexts call directly
        (_posixsubprocess, "fork_exec", forbid("starting a process")),
        (os, "system", forbid("os.system")),
        (os, "posix_spawn", forbid("os.posix_spawn")),
        (os, "posix_spawnp", forbid("os.posix_spawnp")),
        (os, "fork", forbid("os.fork")),
    ]
    for name in ("connect", "connect_ex", "bind"):
        patches.append((socket.socket, name, inet_only(name, getattr(socket.socket, name))))
    # the two ways UCP loads the embedding model (torch/sentence-transformers and ONNX Runtime)
    from ucp.router import embedder, onnx_encoder

    patches.append((embedder.SentenceTransformerEmbedder, "load", forbid("loading the embedding model")))
    patches.append((onnx_encoder.OnnxEncoder, "__init__", forbid("loading the ONNX encoder")))
    return patches


@contextmanager
def _unit_guard(item: pytest.Item) -> Iterator[None]:
    if not is_unit(item):
        yield
        return
    breaches: list[str] = []
    saved: list[tuple[Any, str, Any]] = []
    for owner, name, replacement in _patches(breaches.append):
        saved.append((owner, name, owner.__dict__.get(name, _INHERITED)))
        setattr(owner, name, replacement)

    def fail() -> None:
        pytest.fail(
            f"unit test {item.nodeid} did {', '.join(sorted(set(breaches)))}: "
            "unit tests run in memory; mark it @pytest.mark.integration (or slow)",
            pytrace=False,
        )

    try:
        yield
    except Exception:
        if breaches:
            fail()
        raise
    finally:
        for owner, name, original in reversed(saved):
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
    if breaches:
        fail()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _unit_guard(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _unit_guard(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    with _unit_guard(item):
        return (yield)
