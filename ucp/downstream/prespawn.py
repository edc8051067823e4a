"""Start stdio downstreams before UCP's own heavy imports, to cut cold start.

A host launches UCP and immediately asks for ``tools/list``; in ``full`` mode the answer
must include the tools of every stdio server, so their start-up is on the critical path.
Importing the MCP SDK takes UCP about as long as a Python MCP server takes to start, so
``ucp serve`` spawns the stdio servers first (this module imports only anyio and the config
models) and the MCP adapter adopts the already-running processes on its first connect.
Restarts spawn through the SDK as usual. Anything that fails here is simply not
pre-spawned: the normal path then reports the error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio
from anyio.abc import Process

from ucp.config.loader import expand_env
from ucp.config.models import ServerConfig, StdioServer

# The SDK's allow-list (mcp.client.stdio.DEFAULT_INHERITED_ENV_VARS on POSIX): a child gets
# only these from UCP's environment, plus its configured env.
INHERITED_ENV = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")


@dataclass
class Prespawned:
    process: Process
    errlog: IO[str] | None


def child_env(server: StdioServer, env: Mapping[str, str]) -> dict[str, str]:
    base = {k: v for k in INHERITED_ENV if (v := env.get(k)) is not None and not v.startswith("()")}
    extra = {k: expand_env(v, env, where=f"servers.{server.name}.env.{k}") for k, v in server.env.items()}
    return base | extra


def _open_errlog(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a", encoding="utf-8", buffering=1)


async def prespawn(
    servers: Mapping[str, ServerConfig], *, env: Mapping[str, str] | None = None, logs_dir: Path | None = None
) -> dict[str, Prespawned]:
    if sys.platform == "win32":  # the SDK's Windows spawn (job objects) is not replicated here
        return {}
    environ = os.environ if env is None else env
    out: dict[str, Prespawned] = {}
    for name, server in servers.items():
        if not isinstance(server, StdioServer) or not server.enabled:
            continue
        errlog: IO[str] | None = None
        try:
            where = f"servers.{name}"
            command = expand_env(server.command, environ, where=f"{where}.command")
            args = [expand_env(a, environ, where=f"{where}.args") for a in server.args]
            cwd = expand_env(server.cwd, environ, where=f"{where}.cwd") if server.cwd else None
            if logs_dir is not None:
                errlog = _open_errlog(logs_dir / f"{name}.stderr.log")
            process = await anyio.open_process(
                [command, *args],
                env=child_env(server, environ),
                stderr=errlog if errlog is not None else sys.stderr,
                cwd=cwd,
                start_new_session=True,
            )
        except Exception:  # not pre-spawned; the normal connect path reports the problem
            if errlog is not None:
                errlog.close()
            continue
        out[name] = Prespawned(process, errlog)
    return out
