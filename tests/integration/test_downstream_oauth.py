"""OAuth to a downstream server, against real parts: the downstream is a real ``ucp serve`` behind
the test IdP (``oidc-provider``) as an OAuth resource server; ``ucp auth login`` does discovery,
dynamic client registration and authorization code + PKCE (the browser step driven headlessly);
a gateway then calls through with the stored token and refreshes it after it expires."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, SERVERS, background, free_port, venv_bin
from tests.integration.idp.helpers import browser_login
from ucp.app import Gateway
from ucp.config.models import Config, HttpServer
from ucp.config.paths import Paths

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

IDP_SCRIPT = ROOT / "tests" / "integration" / "idp" / "idp.mjs"
ACCESS_TTL = 4


@dataclass
class Setup:
    remote: str  # the downstream's MCP URL
    remote_home: Path
    home: Path  # the gateway's home (where `ucp auth login` stores tokens)
    env: dict[str, str]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    import shutil

    node = shutil.which("node")
    if (
        node is None
        or not (ROOT / "tests" / "integration" / "node" / "node_modules" / "oidc-provider").exists()
    ):
        pytest.skip("node and oidc-provider (make node) are needed")
    idp_port, port = free_port(), free_port()
    remote_home, home = tmp_path_factory.mktemp("remote"), tmp_path_factory.mktemp("gateway")
    (remote_home / "ucp.toml").write_text(f"""builtins = false
[exposure]
mode = "full"
[auth]
resource = "http://127.0.0.1:{port}/mcp"
issuer = "http://127.0.0.1:{idp_port}"
leeway = 0
scopes_supported = ["tools:read", "tools:write"]
[servers.toy]
type = "stdio"
command = "{sys.executable}"
args = ["{SERVERS / "toy_server.py"}"]
""")
    remote = f"http://127.0.0.1:{port}/mcp"
    (home / "ucp.toml").write_text(f"""builtins = false
[servers.remote]
type = "http"
url = "{remote}"
oauth = true
oauth_scope = "tools:read tools:write"
""")
    idp_env = {**os.environ, "IDP_PORT": str(idp_port), "ACCESS_TTL": str(ACCESS_TTL)}
    remote_env = {**os.environ, "UCP_HOME": str(remote_home), "UCP_CONFIG": "", "UCP_API_KEYS": ""}
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_API_KEYS": ""}
    with (
        background([node, str(IDP_SCRIPT)], port=idp_port, env=idp_env, timeout=30),
        background(
            [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"],
            port=port,
            env=remote_env,
            timeout=60,
        ),
    ):
        yield Setup(remote, remote_home, home, env)


def ucp(setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([venv_bin("ucp"), *args], env=setup.env, capture_output=True, text=True, timeout=60)


def status(setup: Setup) -> dict[str, object]:
    return dict(json.loads(ucp(setup, "auth", "status", "remote", "--json").stdout))


async def test_login_once_then_call_and_refresh_after_expiry(setup: Setup) -> None:
    assert status(setup)["logged_in"] is False
    callback_port = free_port()
    login = subprocess.Popen(
        [
            venv_bin("ucp"),
            "auth",
            "login",
            "remote",
            "--no-browser",
            "--port",
            str(callback_port),
            "--timeout",
            "60",
        ],
        env=setup.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert login.stderr is not None
        url = ""
        deadline = time.monotonic() + 60
        while not url.startswith("http") and time.monotonic() < deadline:
            url = login.stderr.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        await browser_login(url, "dana", f"http://127.0.0.1:{callback_port}/callback", deliver=True)
        out, err = login.communicate(timeout=60)
    finally:
        if login.poll() is None:
            login.kill()
    assert login.returncode == 0, out + err
    assert "logged in to remote" in out
    info = status(setup)
    assert info["logged_in"] is True and info["refreshable"] is True and info["client_id"]
    token_file = setup.home / "oauth" / "remote.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    first = json.loads(token_file.read_text())["tokens"]["access_token"]

    config = Config(
        builtins=False,
        servers={
            "remote": HttpServer(
                name="remote", url=setup.remote, oauth=True, oauth_scope="tools:read tools:write"
            )
        },
    )
    async with Gateway(config, Paths(setup.home), dense=False) as gw:
        await gw.wait_ready(30, live=True)
        session = gw.api.open(transport="rest")
        result = await gw.api.call(session, "remote__toy__echo", {"text": "through OAuth"})
        assert not result.is_error and "through OAuth" in result.content[0].text  # type: ignore[union-attr]
        time.sleep(ACCESS_TTL + 1.5)  # the access token expires; the next request refreshes it first
        again = await gw.api.call(session, "remote__toy__echo", {"text": "after refresh"})
        assert not again.is_error, again.content
    refreshed = json.loads(token_file.read_text())["tokens"]["access_token"]
    assert refreshed != first
    lines = [json.loads(x) for x in (setup.remote_home / "audit" / "audit.jsonl").read_text().splitlines()]
    calls = [x for x in lines if x["event"] == "call" and x["tool"] == "toy__echo"]
    assert [(x["identity"], x["via"]) for x in calls][-2:] == [("dana", "jwt"), ("dana", "jwt")]
    assert first not in (setup.home / "audit" / "audit.jsonl").read_text()
    assert ucp(setup, "auth", "logout", "remote").returncode == 0
    assert status(setup)["logged_in"] is False
