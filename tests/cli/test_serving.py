"""``ucp serve`` without typer: its argparse options are the typer command's; the serve path's import budget."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ucp.cli import serve, serving

# what the serve path must never import before answering a host (heavy, or CLI-only)
FORBIDDEN = (
    "torch", "transformers", "sentence_transformers", "pandas", "statsmodels", "scipy", "lancedb", "pyarrow",
    "rich", "typer", "numpy", "faiss", "onnxruntime", "tokenizers", "onnx", "redis", "psycopg", "jwt",
)  # fmt: skip


def _typer_options() -> dict[str, set[str]]:
    out = {}
    for name, param in inspect.signature(serve.serve).parameters.items():
        info = param.default
        decls = {d for d in getattr(info, "param_decls", ()) for d in d.split("/")}
        out[name] = {d for d in decls if d}
    return out


def test_argparse_and_typer_know_the_same_options() -> None:
    actions: dict[str, set[str]] = {}
    for a in serving.parser()._actions:
        if a.dest != "help":
            actions.setdefault(a.dest, set()).update(a.option_strings)
    typer_opts = _typer_options()
    assert set(actions) == set(typer_opts) == set(inspect.signature(serving.run).parameters)
    for dest, flags in typer_opts.items():
        assert flags == actions[dest], dest


def test_argparse_parses_what_a_host_passes() -> None:
    args = vars(
        serving.parser().parse_args(["-t", "http", "--port", "9000", "--mode", "search", "--no-dense"])
    )
    assert args == {
        "transport": "http", "stdio": False, "host": None, "port": 9000, "config": None, "mode": "search",
        "log_level": "info", "no_dense": True, "cli_listener": True, "workers": None,
    }  # fmt: skip
    assert serving.parser().parse_args(["--workers", "2"]).workers == 2
    assert serving.parser().parse_args(["--no-cli-listener"]).cli_listener is False


def test_bad_options_exit_with_the_usage_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        serving.main(["--transport", "carrier-pigeon"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_fail_prints_plain_error_and_hint(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        serving.fail("port 1 is busy", code=1, hint="pick another")
    assert exc.value.code == 1
    assert capsys.readouterr().err == "error: port 1 is busy\nhint: pick another\n"


@pytest.mark.integration  # spawns an interpreter
def test_the_serve_path_stays_within_its_import_budget() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        sys.argv = ["ucp", "serve"]
        import ucp.cli.main, ucp.cli.serving, ucp.app, ucp.downstream.prespawn, ucp.frontend.server
        print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.integration  # a real `ucp serve` and the time server
def test_nothing_heavy_is_loaded_when_the_host_gets_its_first_list(tmp_path: Path) -> None:
    """Not just the imports: building the gateway and answering the handshake load none of
    FORBIDDEN either (the router's numpy, scipy, faiss and ONNX Runtime load after the answer)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "ucp.toml").write_text(
        f'[servers.time]\ncommand = "{sys.executable}"\nargs = ["-m", "mcp_server_time"]\n'
    )
    env = {**os.environ, "UCP_HOME": str(home), "UCP_CONFIG": "", "UCP_EARLY": "0"}  # the SDK answers

    def start() -> list[str]:
        imported = bytearray()

        def drain(stream: Any) -> None:
            with contextlib.suppress(BlockingIOError, TypeError):
                imported.extend(stream.read() or b"")

        with subprocess.Popen(
            [sys.executable, "-X", "importtime", "-m", "ucp", "serve", "--no-dense"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        ) as proc:  # fmt: skip
            assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
            os.set_blocking(proc.stderr.fileno(), False)
            try:
                for msg in (
                    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
                    {"jsonrpc": "2.0", "method": "notifications/initialized"},
                    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                ):  # fmt: skip
                    proc.stdin.write((json.dumps(msg) + "\n").encode())
                proc.stdin.flush()
                while True:
                    line = proc.stdout.readline()
                    assert line, "ucp serve exited before answering"
                    drain(proc.stderr)
                    if json.loads(line).get("id") == 2:
                        drain(proc.stderr)  # everything imported up to the answer
                        assert "time__get_current_time" in line.decode()
                        break
            finally:
                proc.kill()
        text = imported.decode(errors="replace")
        rows = [row.split("|") for row in text.splitlines() if row.startswith("import time:")]
        # a module hidden on purpose (ucp.log sets sys.modules["rich"] = None) still prints a row, in µs
        return [r[2].strip() for r in rows if len(r) == 3 and r[1].strip().isdigit() and int(r[1]) >= 50]

    for _ in range(2):  # a first start (waits for the time server), then a restart (its last-known lists)
        modules = start()
        assert "mcp" in modules and "ucp.app" in modules  # the trace is complete up to the answer
        assert sorted({m.split(".")[0] for m in modules} & set(FORBIDDEN)) == []
