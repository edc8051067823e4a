"""The CLI through a running gateway, as real processes: ``ucp serve`` (HTTP, and stdio with
its loopback listener) announces itself, ``ucp tools|route|stats`` use it and agree with the
in-process path, a busy port is one line and exit 1, and doctor starts servers as a host would."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import background, free_port, venv_bin

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "user"
    home.mkdir()
    out = {**os.environ, "UCP_HOME": str(tmp_path / "ucp-home"), "HOME": str(home), "COLUMNS": "200"}
    for var in ("UCP_CONFIG", "XDG_CONFIG_HOME", "UCP_URL", "UCP_API_KEYS"):
        out.pop(var, None)
    return out


def ucp(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_bin("ucp"), *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=env["HOME"]
    )


def timed(env: dict[str, str], *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = ucp(env, *args)
    return time.perf_counter() - start, proc


def discovery(env: dict[str, str]) -> list[dict[str, object]]:
    folder = Path(env["UCP_HOME"]) / "state" / "serve"
    return [json.loads(p.read_text()) for p in folder.glob("*.json")] if folder.is_dir() else []


def wait_for_announcement(env: dict[str, str], timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = discovery(env)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("ucp serve never announced itself")


@pytest.fixture
def registered(env: dict[str, str]) -> dict[str, str]:
    added = ucp(env, "registry", "add", "time", "--", venv_bin("mcp-server-time"))
    assert added.returncode == 0, added.stderr
    return env


@pytest.fixture
def http_serve(registered: dict[str, str]) -> Iterator[str]:
    port = free_port()
    cmd = [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"]
    with background(cmd, port=port, env=registered, timeout=60):
        wait_for_announcement(registered)
        yield f"http://127.0.0.1:{port}"


def test_cli_commands_go_through_a_running_gateway(http_serve: str, registered: dict[str, str]) -> None:
    env = registered
    (info,) = discovery(env)
    assert info["url"] == http_serve and info["token"] is None  # loopback without keys: no token needed
    folder = Path(env["UCP_HOME"]) / "state" / "serve"
    assert oct(next(folder.glob("*.json")).stat().st_mode & 0o777) == "0o600"

    args = ["tools", "call", "time__get_current_time", "--args", '{"timezone": "UTC"}']
    remote_s, remote = timed(env, *args)
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout)["timezone"] == "UTC"
    local_s, local = timed(env, *args, "--local")
    assert local.returncode == 0, local.stderr
    assert set(json.loads(local.stdout)) == set(json.loads(remote.stdout))
    start_s, _ = timed(env, "--version")  # what any `ucp` process costs before it does anything
    print(
        f"\ntools call: process start alone {start_s:.2f} s, through the gateway {remote_s:.2f} s, "
        f"cold start {local_s:.2f} s"
    )
    assert remote_s < local_s

    import urllib.request

    with urllib.request.urlopen(f"{http_serve}/openapi.json", timeout=10) as response:
        document = json.loads(response.read())
    assert {"/mcp", "/healthz", "/openapi.json", "/api/v1/cli/call"} <= set(document["paths"])

    listed = ucp(env, "tools", "list", "--json")
    assert {"time__get_current_time", "time__convert_time"} <= {t["name"] for t in json.loads(listed.stdout)}
    assert (
        listed.stdout == ucp(env, "tools", "list", "--json", "--local").stdout
    )  # the same answer either way
    found = json.loads(ucp(env, "tools", "search", "current time in Tokyo", "--json").stdout)
    assert found["results"][0]["name"] == "time__get_current_time"
    described = json.loads(ucp(env, "tools", "describe", "time__convert_time", "--json").stdout)
    assert described["server"] == "time"
    unknown = ucp(env, "tools", "call", "time__nope")
    assert unknown.returncode == 2 and "unknown tool" in unknown.stderr
    invalid = ucp(env, "tools", "call", "time__get_current_time", "--args", "{}")
    assert invalid.returncode == 2
    explained = json.loads(ucp(env, "route", "explain", "current time", "--json", "--no-dense").stdout)
    assert explained["results"][0]["name"].startswith("time__")
    stats = json.loads(ucp(env, "stats", "--json").stdout)
    assert stats["path"] == str(Path(env["UCP_HOME"]) / "state" / "learning.sqlite")
    explicit = ucp({**env, "UCP_HOME": env["HOME"]}, "tools", "list", "--json", "--url", http_serve)
    assert explicit.returncode == 0 and "time__get_current_time" in explicit.stdout


def test_a_stopped_gateway_is_not_used(registered: dict[str, str]) -> None:
    env = registered
    port = free_port()
    cmd = [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"]
    with background(cmd, port=port, env=env, timeout=60):
        wait_for_announcement(env)
    # the process is gone: its announcement went with it (or is stale and ignored)
    listed = ucp(env, "tools", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert not discovery(env)
    gone = ucp(env, "tools", "list", "--url", f"http://127.0.0.1:{port}")
    assert gone.returncode == 1 and "no UCP answers" in gone.stderr


def test_a_stdio_serve_listens_for_the_cli_with_a_token(registered: dict[str, str]) -> None:
    env = registered
    proc = subprocess.Popen(
        [venv_bin("ucp"), "serve", "--no-dense"],  # a loading model delays exit on EOF (known)
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        info = wait_for_announcement(env)
        assert info["transport"] == "stdio" and info["token"]
        # without the token the listener refuses
        refused = ucp({**env, "UCP_HOME": env["HOME"]}, "tools", "list", "--url", str(info["url"]))
        assert refused.returncode == 1
        listed = ucp(env, "tools", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert "time__get_current_time" in listed.stdout
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # the host goes away: UCP exits and withdraws its announcement
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
    assert not discovery(env)


def test_a_busy_port_is_one_clear_line_and_exit_1(env: dict[str, str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = ucp(env, "serve", "--transport", "http", "--port", str(port), timeout=60)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert f"port {port}" in lines[0] and "already in use" in lines[0] and "--port" in lines[0]
    assert "Traceback" not in proc.stderr


def test_doctor_starts_servers_as_a_host_would(env: dict[str, str], tmp_path: Path) -> None:
    """The PATH trap, end to end: a hand-written bare command works in the shell (venv on PATH)
    but not for a host; doctor fails it and names the fix; after the fix it passes."""
    venv = Path(venv_bin("mcp-server-time")).parent
    shell = {**env, "PATH": f"{venv}{os.pathsep}/usr/bin:/bin"}
    Path(env["UCP_HOME"]).mkdir(parents=True, exist_ok=True)
    (Path(env["UCP_HOME"]) / "ucp.toml").write_text('[servers.time]\ncommand = "mcp-server-time"\n')
    result = ucp(shell, "doctor", "--json", "--timeout", "30")
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert result.returncode == 1
    assert checks["command time"]["status"] == "fail"
    assert checks["server time"]["status"] == "fail"  # started with a host's PATH, it does not start
    assert "ucp registry add time --replace --" in checks["command time"]["fix"]
    fixed = ucp(shell, "registry", "add", "time", "--replace", "--", "mcp-server-time")
    assert fixed.returncode == 0, fixed.stderr
    result = ucp(shell, "doctor", "--json", "--timeout", "30")
    checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["server time"]["status"] == "ok", checks
    assert "as a host starts it" in checks["server time"]["detail"]


def test_with_api_keys_the_cli_uses_the_per_run_token(registered: dict[str, str]) -> None:
    import hashlib

    env = registered
    key_hash = "sha256:" + hashlib.sha256(b"the-users-key").hexdigest()
    registry = Path(env["UCP_HOME"]) / "ucp.toml"
    registry.write_text(registry.read_text() + f'\n[http]\napi_keys = ["{key_hash}"]\n')
    port = free_port()
    cmd = [venv_bin("ucp"), "serve", "--transport", "http", "--port", str(port), "--no-dense"]
    with background(cmd, port=port, env=env, timeout=60):
        info = wait_for_announcement(env)
        assert info["token"]  # keys are required, so the CLI gets a token made for this run
        listed = ucp(env, "tools", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert "time__get_current_time" in listed.stdout
        with_key = ucp(
            {**env, "UCP_TOKEN": "the-users-key"},
            "tools",
            "list",
            "--json",
            "--url",
            f"http://127.0.0.1:{port}",
        )
        assert with_key.returncode == 0, with_key.stderr
        without = ucp(env, "tools", "list", "--url", f"http://127.0.0.1:{port}")
        assert without.returncode == 1  # /healthz answers, the tools need a key
        assert "[unauthorized]" in without.stderr, without.stderr
