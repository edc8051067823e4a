"""Running ``ucp serve``, without typer or rich: what a host launches starts as fast as it can.

Why a module of its own: a host spawns ``ucp serve`` and waits for its first ``tools/list``, so
every import before that answer is on the host's critical path. typer (with its vendored click)
and rich cost ~100 ms to import and are needed by no part of serving, so the entry point
(``ucp.cli.main``) parses ``serve``'s options here with argparse and calls :func:`run`; the typer
command of the full CLI (``ucp.cli.serve``, for ``ucp serve --help`` and the tests' runner) calls
the same :func:`run`. ``tests/cli/test_serving.py`` checks both parsers know the same options.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import anyio

from ucp import log as ucp_log
from ucp.config.loader import LoadedConfig, read_config_file
from ucp.config.paths import Paths, config_path, default_paths
from ucp.errors import UCPError

EXIT_USAGE = 2
EXIT_FAILURE = 1
TRANSPORTS = ("stdio", "http")
MODES = ("auto", "full", "search", "dynamic")


def fail(message: str, *, code: int = EXIT_USAGE, hint: str | None = None) -> NoReturn:
    """``error: ...`` (and ``hint: ...``) on stderr, then exit ``code`` (the CLI's convention, plain text)."""
    sys.stderr.write(f"error: {message}\n" + (f"hint: {hint}\n" if hint else ""))
    sys.stderr.flush()
    raise SystemExit(code)


def fail_error(exc: UCPError, *, code: int = EXIT_USAGE) -> NoReturn:
    fail(f"{exc.message} [{exc.code}]", code=code)


def load(config: Path | None) -> tuple[LoadedConfig, Paths]:
    paths = default_paths()
    try:
        loaded = read_config_file(config_path(config))
    except UCPError as exc:
        fail_error(exc)
    return loaded, paths


def start_early(config: Path | None, argv: list[str]) -> Any:
    """The stdio front that answers a host's handshake from the last start's answers while UCP
    loads (``ucp.frontend.early``); ``UCP_EARLY=0`` turns it off."""
    if os.environ.get("UCP_EARLY", "1") == "0":
        return None
    import ucp
    from ucp.frontend.early import EarlyFront, inputs_of

    paths = default_paths()
    inputs = inputs_of(
        version=ucp.__version__,
        argv=argv,
        files=[config_path(config), paths.services, paths.pins, paths.enable_requests],
        lists_dir=paths.index_dir / "lists",
        env=dict(os.environ),
    )
    front = EarlyFront(paths.index_dir / "early", inputs)
    try:
        front.claim_stdio()
    except OSError:  # no usable stdin/stdout descriptors: the SDK's own transport reports it
        return None
    front.start()
    return front


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` cannot be bound (checked before anything starts, so a busy port is
    one clear line instead of a start-up followed by uvicorn's traceback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES, getattr(errno, "WSAEADDRINUSE", -1))
    return False


def parser() -> argparse.ArgumentParser:
    """``ucp serve``'s options (the same as the typer command's in ``ucp.cli.serve``)."""
    p = argparse.ArgumentParser(prog="ucp serve", description="Run UCP.")
    p.add_argument("--transport", "-t", choices=TRANSPORTS, default="stdio")
    p.add_argument("--stdio", action="store_true")
    p.add_argument("--host", default=None)
    p.add_argument("--port", "-p", type=int, default=None)
    p.add_argument("--config", "-c", type=Path, default=None)
    p.add_argument("--mode", "-m", choices=MODES, default=None)
    p.add_argument("--log-level", default="info")
    p.add_argument("--no-dense", action="store_true")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--cli-listener", dest="cli_listener", action="store_true", default=True)
    p.add_argument("--no-cli-listener", dest="cli_listener", action="store_false")
    return p


def main(argv: list[str]) -> None:
    """``ucp serve ARGV...`` as the entry point's fast path runs it."""
    args = parser().parse_args(argv)
    run(**vars(args))


def run(
    *,
    transport: str = "stdio",
    stdio: bool = False,
    host: str | None = None,
    port: int | None = None,
    config: Path | None = None,
    mode: str | None = None,
    log_level: str = "info",
    no_dense: bool = False,
    cli_listener: bool = True,
    workers: int | None = None,
) -> None:
    """Load the registry, configure logging, and serve over stdio or HTTP until stopped.
    ``workers`` > 1 (HTTP): this process keeps the downstream connections and runs that many
    HTTP workers (``ucp.cli.workers``)."""
    from ucp.cli.workers import die_with_parent, worker_role

    role = worker_role()  # this process is one worker of `ucp serve --workers N`
    if role is not None:
        die_with_parent()
    if workers is not None and not 1 <= workers <= 16:
        fail("--workers takes 1 to 16")
    use_http = transport == "http" and not stdio
    early_front = None if use_http or role is not None else start_early(config, sys.argv[1:])
    loaded, paths = load(config)
    cfg = loaded.config
    if mode is not None:
        cfg = cfg.model_copy(update={"exposure": cfg.exposure.model_copy(update={"mode": mode})})
    level = os.environ.get("UCP_LOG_LEVEL", log_level)
    try:
        paths.ensure()
        log_file = paths.log_file
    except OSError as exc:
        fail(f"cannot create the UCP home {paths.home}: {exc}", hint="set UCP_HOME to a writable directory")
    n_workers = (workers if workers is not None else cfg.http.workers) if use_http else 1
    if role is not None:
        log_file = log_file.with_name(f"{log_file.stem}.worker-{role[0]}{log_file.suffix}")
    ucp_log.configure(level, log_file=log_file)
    if n_workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        fail("--workers needs SO_REUSEPORT (Linux, macOS); use one worker here")
    bind_host = host or cfg.http.host
    bind_port = port if port is not None else cfg.http.port
    if use_http:
        from ucp.frontend.http import check_bind
        from ucp.identity.authenticator import Authenticator

        try:
            check_bind(bind_host, Authenticator(cfg.auth, cfg.http, os.environ, key_file=paths.keys).enabled)
        except UCPError as exc:
            fail_error(exc)
        if role is None and bind_port and port_in_use(bind_host, bind_port):
            fail(
                f"port {bind_port} on {bind_host} is already in use (another `ucp serve`?); "
                "stop it, or pick another port with --port",
                code=EXIT_FAILURE,
            )

    if use_http and n_workers > 1 and not bind_port:
        bind_port = free_loopback_port()  # every worker must bind the same port
    if use_http and role is None:
        sys.stderr.write(
            f"UCP serves MCP at http://{bind_host}:{bind_port}/mcp (registry {loaded.path}; log {log_file}); "
            "Ctrl-C stops it\n"
        )
        sys.stderr.flush()
    keys_env = cfg.http.api_keys_env

    def cli_token(required: bool) -> str | None:
        """A bearer key for this run's CLI clients; only when the HTTP front requires keys."""
        if not required:
            return None
        token = secrets.token_urlsafe(32)
        current = os.environ.get(keys_env, "")
        os.environ[keys_env] = f"{current},{token}" if current else token
        return token

    async def announce_http(host: str, port: int, token: str | None, transport: str) -> Path:
        from ucp.config.running import Running, announce

        reach = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        url = f"http://[{reach}]:{port}" if ":" in reach else f"http://{reach}:{port}"
        running = Running(
            url, os.getpid(), str(loaded.path) if loaded.path else None, token, transport, time.time()
        )
        return announce(paths.home, running)

    async def main() -> None:
        # Spawn stdio servers first: they start while UCP imports the MCP SDK (cold start).
        from ucp.downstream.prespawn import prespawn

        early = await prespawn(cfg.servers, logs_dir=paths.logs_dir) if role is None else {}
        from ucp.app import Gateway, serve_http, serve_stdio
        from ucp.config.running import withdraw

        token = None
        if use_http:
            from ucp.identity.authenticator import Authenticator

            token = cli_token(Authenticator(cfg.auth, cfg.http, os.environ, key_file=paths.keys).enabled)
        announced: Path | None = None
        try:
            async with (
                Gateway(
                    cfg,
                    paths,
                    config_path=loaded.path,
                    watch_config=True,
                    dense=False if no_dense or (n_workers > 1 and role is None) else None,  # workers rank
                    prespawned=early,
                    pool_sockets=role[1] if role is not None else None,
                ) as gateway,
                anyio.create_task_group() as guard,
            ):
                guard.start_soon(_stop_on_sigterm, gateway, lambda: announced)
                try:
                    if use_http and role is not None:
                        await serve_http(gateway, bind_host, bind_port, worker=role[0])
                        return
                    if use_http and n_workers > 1:
                        from ucp.cli.workers import serve_pool

                        announced = await announce_http(bind_host, bind_port, token, "http")
                        await serve_pool(gateway, n_workers, sys.argv[1:])
                        return
                    if use_http:
                        announced = await announce_http(bind_host, bind_port, token, "http")
                        await serve_http(gateway, bind_host, bind_port)
                        return
                    if not cli_listener:
                        await serve_stdio(gateway, early_front)
                        return

                    listener: dict[str, Any] = {}

                    async def listen_for_the_cli() -> None:
                        """Loopback HTTP for ``ucp tools|route|stats`` (token required), opened once the
                        host has been answered: off its critical path. Its own uvicorn server, so that
                        it stops when stdio ends and never takes the process's signals."""
                        nonlocal announced
                        await anyio.sleep(1.0)
                        import uvicorn

                        from ucp.frontend.http import Fronts, build_http_app

                        port = free_loopback_port()
                        token = cli_token(True)
                        fronts = Fronts(
                            api=gateway.api, admin=gateway.admin, http=gateway.config.http, env=gateway.env
                        )
                        app = build_http_app(fronts, host="127.0.0.1")
                        config = uvicorn.Config(
                            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
                        )
                        server = uvicorn.Server(config)
                        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
                        listener["server"] = server
                        announced = await announce_http("127.0.0.1", port, token, "stdio")
                        await server.serve()

                    async with anyio.create_task_group() as tg:
                        tg.start_soon(listen_for_the_cli)
                        await serve_stdio(gateway, early_front)
                        if "server" in listener:
                            listener["server"].should_exit = True  # graceful: the task ends by itself
                        else:
                            tg.cancel_scope.cancel()
                finally:
                    guard.cancel_scope.cancel()
        finally:
            if announced is not None:
                withdraw(announced)

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        pass


async def _stop_on_sigterm(gateway: Any, announced: Any = lambda: None) -> None:
    """SIGTERM shuts down cleanly: every server's stdin is closed, it gets a grace period, then
    its process group is killed; learning state is saved; UCP exits 0. (Over stdio the SDK's
    stdin reader sits in a thread no cancellation can stop, hence the explicit exit. uvicorn
    installs its own graceful SIGTERM handling while it serves HTTP.)"""
    import os
    import signal
    import sys

    if sys.platform == "win32":
        return
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            from ucp.log import get_logger

            log = get_logger("ucp.cli")
            lifecycle = getattr(gateway, "lifecycle", None)
            if lifecycle is not None and lifecycle.drain_s > 0:
                # HTTP: stop taking new work, let calls in flight finish, deregister (frontend/lifecycle.py)
                lifecycle.start_drain()
                if not lifecycle.finished.is_set():
                    log.info("sigterm_received", action="draining, then stopping every server")
                    with anyio.move_on_after(lifecycle.drain_s + 5):
                        await lifecycle.finished.wait()
            from ucp.cli.workers import RUNNING, stop_workers

            if RUNNING:  # the pool process of `--workers`: the workers drain first, then the servers
                await stop_workers(gateway.config.http.drain_s + 10)
            log.info("sigterm_received", action="stopping every server, then exiting")
            await gateway.pool.drain(10.0)
            learner = gateway.router.learner_loaded
            if learner is not None:
                try:
                    learner.close()
                except Exception:
                    log.exception("learning_state_not_saved")
            path = announced()
            if path is not None:
                from ucp.config.running import withdraw

                withdraw(path)
            from ucp.cli.workers import CURRENT, remove_directory

            for directory in CURRENT:  # the pool process of `--workers`: its sockets
                remove_directory(directory)
            log.info("stopped", reason="SIGTERM")
            os._exit(0)
