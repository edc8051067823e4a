"""The process model of ``ucp serve --transport http --workers N``: one pool process, N workers.

This process (the one ``ucp serve`` started) keeps every downstream connection (its ``Gateway``'s
pool: a stdio server is spawned once, whatever N) and serves each server to the workers as MCP
on a unix socket (``pool/share.py``). It then starts N worker processes (``ucp serve`` again,
told by ``UCP_WORKER`` which one it is and where the sockets are): each runs the HTTP front,
its sessions, the ranking and the learning, on the shared port (``frontend/workers.py``), and
dies with this process (parent-death signal). A worker that exits is started again (at most
every ``RESTART_DELAY`` seconds). Embedded state the workers share is SQLite in WAL mode
(learning events, call records): each worker appends its own rows, nothing is overwritten.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from ucp.log import get_logger

log = get_logger("ucp.workers")

WORKER_ENV = "UCP_WORKER"  # "<index>:<socket directory>", set only in worker processes
RESTART_DELAY = 1.0


def worker_role() -> tuple[int, Path] | None:
    """``(index, socket directory)`` when this process is a worker, else ``None``."""
    raw = os.environ.get(WORKER_ENV, "")
    index, _, directory = raw.partition(":")
    if not index.isdigit() or not directory:
        return None
    return int(index), Path(directory)


def die_with_parent() -> None:
    """A worker gets SIGTERM when the pool process dies, however it dies (Linux ``prctl``)."""
    if sys.platform.startswith("linux"):
        import ctypes  # only workers need it

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call
            os.kill(os.getpid(), signal.SIGTERM)


def worker_argv(argv: list[str]) -> list[str]:
    """The ``ucp serve`` command line of a worker: this one's, minus ``--workers``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers="):
            continue
        out.append(arg)
    return out


_PREFIX = "ucp-pool-"


def socket_directory() -> Path:
    """A private directory for the sockets (short: unix socket paths are limited to ~100 bytes),
    named by this process's id; directories of pool processes that are gone are removed."""
    for stale in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        pid = stale.name[len(_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            remove_directory(stale)
    return Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_directory(directory: Path) -> None:
    """Remove a socket directory and its sockets (nothing else is ever in it)."""
    try:
        for leftover in directory.iterdir():
            leftover.unlink(missing_ok=True)
        directory.rmdir()
    except OSError:
        pass


CURRENT: list[Path] = []  # this process's socket directory, removed on SIGTERM too (``serve.py``)
RUNNING: dict[int, Any] = {}  # worker index -> its process
_stopping = False


async def stop_workers(timeout: float) -> None:
    """SIGTERM every worker (each drains its calls in flight) and wait for them, before the pool
    process closes the downstream connections those calls use."""
    global _stopping
    _stopping = True
    for process in list(RUNNING.values()):
        if process.returncode is None:
            process.terminate()
    with anyio.move_on_after(timeout):
        for process in list(RUNNING.values()):
            await process.wait()


async def serve_pool(gateway: Any, workers: int, argv: list[str]) -> None:
    """Share ``gateway``'s pool on unix sockets, run ``workers`` workers, until cancelled."""
    from ucp.pool.share import PoolShare

    directory = socket_directory()
    CURRENT.append(directory)
    share = PoolShare(gateway.pool, directory, gateway.downstream_events)
    command = [sys.executable, "-m", "ucp", *worker_argv(argv)]
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(share.run)
            log.info("pool_process_serving", workers=workers, sockets=str(directory))
            threads = str(max(1, (os.cpu_count() or 1) // workers))  # one encoder per worker: share the cores
            for index in range(workers):
                tg.start_soon(_supervise, index, command, directory, threads)
    finally:
        remove_directory(directory)


async def _supervise(index: int, command: list[str], directory: Path, threads: str = "") -> None:
    env = {**os.environ, WORKER_ENV: f"{index}:{directory}"}
    if threads and "UCP_ENCODER_THREADS" not in env:
        env["UCP_ENCODER_THREADS"] = threads
    while not _stopping:
        process = await anyio.open_process(command, env=env, stdin=None, stdout=None, stderr=None)
        RUNNING[index] = process
        try:
            code = await process.wait()
        finally:
            if process.returncode is None:
                process.terminate()
                with anyio.move_on_after(10, shield=True):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
        if _stopping:
            return
        log.warning("worker_exited", worker=index, code=code, action=f"restarting in {RESTART_DELAY:g} s")
        await anyio.sleep(RESTART_DELAY)
