"""``ucp serve`` without typer: its argparse options are the typer command's; the serve path's import budget."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest

from ucp.cli import serve, serving

# what the serve path must never import before answering a host (heavy, or CLI-only)
FORBIDDEN = (
    "torch", "transformers", "sentence_transformers", "pandas", "statsmodels", "scipy", "lancedb", "pyarrow",
    "rich", "typer", "numpy", "faiss", "onnxruntime", "tokenizers", "onnx", "redis", "psycopg",
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
