"""`ucp doctor` through CliRunner: each check, and a non-zero exit on any problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import Cli


def run(cli: Cli, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = cli("doctor", "--json", *args)
    data = json.loads(result.stdout)
    assert data["ok"] is (result.exit_code == 0)
    return result.exit_code, {c["check"]: c for c in data["checks"]}


def test_healthy_installation(cli: Cli) -> None:
    code, checks = run(cli, "--skip-servers")
    assert code == 0, checks
    assert {"python", "package mcp", "package onnxruntime", "embedding model", "data dir", "config"} <= set(
        checks
    )
    assert checks["embedding model"]["status"] == "ok"
    assert "model" in checks["embedding model"]["detail"]
    assert checks["data dir"]["status"] == "ok"


def test_table_output(cli: Cli) -> None:
    result = cli("doctor", "--skip-servers")
    assert result.exit_code == 0
    assert "All checks passed." in result.stdout


def test_no_servers_is_fine(cli: Cli) -> None:
    code, checks = run(cli)
    assert code == 0
    assert checks["servers"]["status"] == "ok"


def test_invalid_config_fails_with_the_reason(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    cli.registry.write_text('[servers.x]\ncommand = "a"\nmax_concurrency = 0\n')
    code, checks = run(cli)
    assert code == 1
    assert checks["config"]["status"] == "fail"
    assert "max_concurrency" in checks["config"]["detail"]
    assert checks["config"]["fix"]
    human = cli("doctor")
    assert human.exit_code == 1
    assert "problem(s) found" in human.stdout


def test_missing_command_env_and_unreachable_server(cli: Cli, tmp_path: Path) -> None:
    assert (
        cli(
            "registry", "add", "ghost", "--env", "T=${DOCTOR_UNSET_VAR}", "--", str(tmp_path / "nope")
        ).exit_code
        == 0
    )
    code, checks = run(cli, "--timeout", "20")
    assert code == 1
    assert checks["command ghost"]["status"] == "fail"
    assert "does not exist" in checks["command ghost"]["detail"]
    assert checks["env ghost"]["status"] == "fail"
    assert "DOCTOR_UNSET_VAR" in checks["env ghost"]["detail"]
    assert checks["server ghost"]["status"] == "fail"
    assert "ucp registry check ghost" in checks["server ghost"]["fix"]


def test_node_needed_but_missing(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("registry", "add", "--from-catalog", "memory").exit_code == 0
    monkeypatch.setenv("PATH", str(tmp_path))
    code, checks = run(cli, "--skip-servers", "--shell-env")
    assert code == 1
    assert checks["node"]["status"] == "fail"
    assert "Node.js" in checks["node"]["fix"]


def test_bundled_model_missing(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ucp.router import embedder

    monkeypatch.setattr(embedder, "PACKAGED_MODEL", tmp_path)
    code, checks = run(cli, "--skip-servers")
    assert code == 1
    assert checks["embedding model"]["status"] == "fail"
    assert "model.safetensors" in checks["embedding model"]["detail"]


def test_configured_model_not_available_offline_is_a_warning(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    cli.registry.write_text('[router]\nembedding_model = "acme/not-downloaded-model"\n')
    code, checks = run(cli, "--skip-servers")
    assert code == 0
    assert checks["embedding model"]["status"] == "warn"


def test_unwritable_data_dir(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("UCP_HOME", str(blocker / "home"))
    code, checks = run(cli, "--skip-servers")
    assert code == 1
    assert checks["data dir"]["status"] == "fail"
    assert "UCP_HOME" in checks["data dir"]["fix"]


def _script(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    return script


def test_a_bare_command_only_on_the_shell_path_fails_as_a_host_would(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PATH trap: the registry names a command the shell finds (a venv's bin) but a host,
    starting UCP with a minimal PATH, does not. Doctor says so and gives the fix."""
    script = _script(tmp_path / "venv-bin", "my-mcp-server")
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    cli.home.mkdir(parents=True)
    cli.registry.write_text('[servers.mine]\ncommand = "my-mcp-server"\n')  # written by hand: bare
    code, checks = run(cli, "--skip-servers")
    assert code == 1
    check = checks["command mine"]
    assert check["status"] == "fail"
    assert "not on the PATH hosts give UCP" in check["detail"]
    assert f"ucp registry add mine --replace -- {script}" in check["fix"]
    # the shell's view passes
    _, checks = run(cli, "--skip-servers", "--shell-env")
    assert "command mine" not in checks


def test_registry_add_resolves_a_bare_command_so_doctor_passes(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script(tmp_path / "venv-bin", "my-mcp-server")
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    result = cli("registry", "add", "mine", "--", "my-mcp-server", "--flag")
    assert result.exit_code == 0, result.output
    assert str(script) in result.stderr  # the user is told what was recorded
    assert f'command = "{script}"' in cli.registry.read_text()
    _, checks = run(cli, "--skip-servers")
    assert "command mine" not in checks, checks


def test_a_secret_only_in_the_shell_is_missing_for_a_host(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCTOR_SHELL_TOKEN", "x")
    assert (
        cli(
            "registry",
            "add",
            "r",
            "--url",
            "https://e.com/mcp",
            "-H",
            "Authorization: Bearer ${DOCTOR_SHELL_TOKEN}",
        ).exit_code
        == 0
    )
    _, checks = run(cli, "--skip-servers")
    assert checks["env r"]["status"] == "fail"
    assert "only in this shell" in checks["env r"]["detail"]
    assert ".env" in checks["env r"]["fix"]
    (cli.home / ".env").write_text('DOCTOR_SHELL_TOKEN="from-dotenv"\n')
    _, checks = run(cli, "--skip-servers")
    assert "env r" not in checks


def test_size_reports_the_runtime_closure_by_dependency(cli: Cli) -> None:
    result = cli("doctor", "--size", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    names = {r["name"]: r for r in report["runtime"]}
    assert {"mcp", "numpy", "onnxruntime"} <= set(names)
    assert report["runtime_mb"] >= names["onnxruntime"]["mb"] > 10
    assert "ucp" in names["onnxruntime"]["required_by"]
    sizes = [r["mb"] for r in report["runtime"]]
    assert sizes == sorted(sizes, reverse=True)
    text = cli("doctor", "--size")
    assert text.exit_code == 0 and "run-time closure of ucp" in text.output
