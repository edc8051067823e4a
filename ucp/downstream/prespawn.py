"""Start stdio downstreams before UCP's own heavy imports, to cut cold start.

A host launches UCP and immediately asks for ``tools/list``; in ``full`` mode the answer
must include the tools of every stdio server, so their start-up is on the critical path.
Importing the MCP SDK takes UCP about as long as a Python MCP server takes to start, so
``ucp serve`` spawns the stdio servers first (this module imports only anyio and the config
models) and the MCP adapter adopts the already-running processes on its first connect.
Restarts spawn the same way (``spawn``): own process group, a parent-death signal, and
stderr piped into a size-rotated log. Anything that fails here is simply not
pre-spawned: the normal path then reports the error.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import Process

from ucp.config.loader import expand_env
from ucp.config.models import ServerConfig, StdioServer
from ucp.log import RotatingFile

# The SDK's allow-list (mcp.client.stdio.DEFAULT_INHERITED_ENV_VARS on POSIX): a child gets
# only these from UCP's environment, plus its configured env.
INHERITED_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
STDERR_LOG_BYTES = 10 * 1024 * 1024  # each server's stderr log is rotated past this (one backup)
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


@dataclass
class Prespawned:
    process: Process
    errlog: RotatingFile | None  # where the stderr pump writes (closed with the connection)


class SpawnError(Exception):
    """A stdio server could not be started; the message names no expanded value (no secrets)."""


def child_env(server: StdioServer, env: Mapping[str, str]) -> dict[str, str]:
    base = {k: v for k in INHERITED_ENV if (v := env.get(k)) is not None and not v.startswith("()")}
    extra = {k: expand_env(v, env, where=f"servers.{server.name}.env.{k}") for k, v in server.env.items()}
    return base | extra


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    """Children die with UCP, even on SIGKILL: ``setpriv --pdeathsig TERM`` makes the kernel send
    SIGTERM to the server when UCP exits (Linux; elsewhere the process group is killed on exit)."""
    if _SETPRIV is None:
        return argv
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]


_REAPER_SCRIPT = r"""
pgs=" "
while read -r op pg; do
  case "$op" in
    +) pgs="$pgs$pg " ;;
    -) pgs=$(printf '%s' "$pgs" | sed "s/ $pg / /") ;;
  esac
done
[ -z "${pgs# }" ] && exit 0
for pg in $pgs; do kill -TERM "-$pg" 2>/dev/null; done
sleep 2
for pg in $pgs; do kill -KILL "-$pg" 2>/dev/null; done
"""


class Reaper:
    """Kills every live server's process group when UCP dies, however it dies.

    ``setpriv --pdeathsig`` covers a server itself; its own children (``npx`` -> ``node``) sit
    in its process group. One ``/bin/sh`` per UCP reads process-group ids from a pipe; when UCP
    exits, even by SIGKILL, the pipe closes and the shell kills the groups still registered
    (servers that ended normally were unregistered, so a reused id is never hit)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def _ensure(self) -> subprocess.Popen[bytes] | None:
        if self._proc is None and sys.platform != "win32" and os.path.exists("/bin/sh"):
            try:
                self._proc = subprocess.Popen(
                    ["/bin/sh", "-c", _REAPER_SCRIPT],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            except OSError:
                self._proc = None
            else:
                atexit.register(self.close)
        return self._proc

    def close(self) -> None:
        """At a normal exit: the pipe closes, the reaper kills what is still registered and ends."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if proc.stdin is not None:
                proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def _send(self, line: str) -> None:
        proc = self._ensure()
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(line.encode())
            proc.stdin.flush()
        except (OSError, ValueError):
            self._proc = None

    def register(self, pgid: int) -> None:
        self._send(f"+ {pgid}\n")

    def unregister(self, pgid: int) -> None:
        self._send(f"- {pgid}\n")


REAPER = Reaper()


def _executable(command: str, cwd: str | None) -> bool:
    on_disk = os.path.join(cwd, command) if cwd and not os.path.isabs(command) else command
    return os.path.isfile(on_disk) and os.access(on_disk, os.X_OK)


async def spawn(
    server: StdioServer, *, env: Mapping[str, str] | None = None, errlog_path: Path | None = None
) -> Prespawned:
    """Start one stdio server: own process group, parent-death signal, stderr piped (to a
    size-rotated log at ``errlog_path``). Raises ``SpawnError`` or ``ConfigError``."""
    environ = os.environ if env is None else env
    where = f"servers.{server.name}"
    command = expand_env(server.command, environ, where=f"{where}.command")
    args = [expand_env(a, environ, where=f"{where}.args") for a in server.args]
    cwd = expand_env(server.cwd, environ, where=f"{where}.cwd") if server.cwd else None
    child = child_env(server, environ)
    resolved = command if os.sep in command else shutil.which(command, path=child.get("PATH"))
    if resolved is None:
        raise SpawnError(f"the command {server.command!r} is not on PATH (server {server.name!r})")
    if not _executable(resolved, cwd):
        raise SpawnError(f"the command {server.command!r} is not an executable file (server {server.name!r})")
    errlog = RotatingFile(errlog_path, STDERR_LOG_BYTES) if errlog_path is not None else None
    try:
        process = await anyio.open_process(
            _with_parent_death_signal([resolved, *args]),
            env=child,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        if errlog is not None:
            errlog.close()
        # never echo exc.filename or argv: they hold the expanded (possibly secret) values
        reason = exc.strerror or type(exc).__name__
        raise SpawnError(f"cannot start {server.command!r} for server {server.name!r}: {reason}") from None
    REAPER.register(process.pid)  # its own session: the process group id is its pid
    return Prespawned(process, errlog)


async def prespawn(
    servers: Mapping[str, ServerConfig], *, env: Mapping[str, str] | None = None, logs_dir: Path | None = None
) -> dict[str, Prespawned]:
    if sys.platform == "win32":  # the SDK's Windows spawn (job objects) is not replicated here
        return {}
    out: dict[str, Prespawned] = {}
    for name, server in servers.items():
        if not isinstance(server, StdioServer) or not server.enabled:
            continue
        try:
            errlog_path = logs_dir / f"{name}.stderr.log" if logs_dir is not None else None
            out[name] = await spawn(server, env=env, errlog_path=errlog_path)
        except Exception:  # not pre-spawned; the normal connect path reports the problem
            continue
    return out
