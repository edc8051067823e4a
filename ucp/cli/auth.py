"""``ucp auth login|logout|status SERVER``: the one-time browser step for downstream servers
that need OAuth (``oauth = true`` in their registry entry; see ``ucp.downstream.oauth``).

``login`` listens on ``127.0.0.1:<port>/callback`` for the redirect, prints the authorization
URL (and opens a browser unless ``--no-browser``), then connects to the server once so the
tokens are stored (0600 under ``UCP_HOME/oauth``). A running UCP picks them up at its next
connection to the server and refreshes them from then on.
"""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio
import typer

from ucp.cli.audit import record_admin
from ucp.cli.common import console, fail, load, print_json
from ucp.config.models import HttpServer

app = typer.Typer(help="OAuth logins to downstream servers that need one.", no_args_is_help=True)

ConfigOption = typer.Option(None, "--config", "-c", help="Registry or host config file.")
PAGE = b"<html><body><h3>UCP: logged in. You can close this window.</h3></body></html>"


def _server(name: str, config: Path | None) -> tuple[HttpServer, Path]:
    loaded, paths = load(config)
    server = loaded.config.servers.get(name)
    if server is None:
        fail(f"no server {name!r} in {loaded.path}", hint="`ucp registry list` shows the servers")
    if not isinstance(server, HttpServer):
        fail(f"{name} is a {server.type} server; OAuth logins are for remote (http) MCP servers")
    if not server.oauth:
        fail(f"{name} is not marked as needing OAuth", hint=f"set oauth = true in [servers.{name}]")
    return server, paths.oauth_dir


async def _login(server: HttpServer, oauth_dir: Path, port: int, browser: bool, timeout: float) -> int:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import AuthorizationCodeResult

    from ucp.downstream.oauth import provider

    got: dict[str, str] = {}
    arrived = anyio.Event()

    async def handle(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            request = (await stream.receive(65536)).decode("latin-1")
            target = request.split(" ", 2)[1] if request.count(" ") >= 2 else "/"
            query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
            if urlsplit(target).path == "/callback" and ("code" in query or "error" in query):
                got.update(query)
                arrived.set()
            await stream.send(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: "
                + str(len(PAGE)).encode()
                + b"\r\nconnection: close\r\n\r\n"
                + PAGE
            )

    async def redirect(url: str) -> None:
        print(f"Open this URL to log in to {server.name}:\n{url}", file=sys.stderr, flush=True)
        if browser:
            webbrowser.open(url)

    async def callback() -> AuthorizationCodeResult:
        with anyio.fail_after(timeout):
            await arrived.wait()
        if "error" in got:
            raise RuntimeError(
                f"the authorization server refused: {got.get('error_description') or got['error']}"
            )
        return AuthorizationCodeResult(code=got["code"], state=got.get("state"), iss=got.get("iss"))

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        auth = provider(
            server.name,
            server.url,
            oauth_dir,
            scope=server.oauth_scope,
            port=port,
            redirect_handler=redirect,
            callback_handler=callback,
        )
        try:
            async with (
                httpx2.AsyncClient(auth=auth, headers=dict(server.headers), timeout=60) as http,
                Client(streamable_http_client(server.url, http_client=http), mode="legacy") as client,
            ):
                tools = len((await client.list_tools()).tools)
            auth.remember_metadata()
        finally:
            tg.cancel_scope.cancel()
    return tools


@app.command("login")
def login(
    server: str = typer.Argument(..., help="The server's name in the registry."),
    port: int = typer.Option(33418, help="Loopback port of the redirect URI."),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open the URL in a browser."),
    timeout: float = typer.Option(300.0, help="Seconds to wait for the browser step."),
    config: Path | None = ConfigOption,
) -> None:
    """Log in to a server that needs OAuth (one browser step); tokens are stored and refreshed.

    Example: ucp auth login linear
    """
    cfg, oauth_dir = _server(server, config)
    try:
        tools = anyio.run(_login, cfg, oauth_dir, port, browser, timeout)
    except Exception as exc:  # the SDK's OAuth errors, timeouts, refusals: one line, no traceback
        fail(f"login to {server} failed: {type(exc).__name__}: {exc}"[:500])
    record_admin("oauth_login", server=server)
    console.print(f"logged in to {server} ({tools} tools); tokens in {oauth_dir / (server + '.json')} (0600)")


@app.command("logout")
def logout(server: str = typer.Argument(...), config: Path | None = ConfigOption) -> None:
    """Forget a server's tokens and client registration.

    Example: ucp auth logout linear
    """
    from ucp.downstream.oauth import token_path

    _cfg, oauth_dir = _server(server, config)
    path = token_path(oauth_dir, server)
    existed = path.exists()
    path.unlink(missing_ok=True)
    record_admin("oauth_logout", server=server)
    console.print(f"logged out of {server}" if existed else f"{server} had no stored login")


@app.command("status")
def status(
    server: str = typer.Argument(...),
    config: Path | None = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
) -> None:
    """Whether UCP holds a login for a server, until when, and whether it can refresh it.

    Example: ucp auth status linear
    """
    from ucp.downstream.oauth import status as login_status

    _cfg, oauth_dir = _server(server, config)
    info = login_status(oauth_dir, server)
    if as_json:
        print_json(info)
        return
    if not info["logged_in"]:
        console.print(f"{server}: not logged in (`ucp auth login {server}`)")
        return
    state = "expired" if info["expired"] else "valid"
    refresh = "refreshable" if info["refreshable"] else "no refresh token"
    console.print(f"{server}: logged in, access token {state}, {refresh}; scope {info['scope'] or '-'}")
