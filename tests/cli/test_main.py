"""The root command: --version, --help with an example on every command, shell completion."""

from __future__ import annotations

import pytest
import typer.main

import ucp
from tests.cli.conftest import Cli
from ucp.cli.main import app

MINE = [
    ["registry"],
    ["tools"],
    ["registry", "add"],
    ["registry", "remove"],
    ["registry", "list"],
    ["registry", "show"],
    ["registry", "enable"],
    ["registry", "disable"],
    ["registry", "import"],
    ["registry", "export"],
    ["registry", "check"],
    ["registry", "catalog"],
    ["tools", "list"],
    ["tools", "search"],
    ["tools", "describe"],
    ["tools", "call"],
    ["install"],
    ["doctor"],
]


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ucp {ucp.__version__}"


@pytest.mark.parametrize("command", MINE, ids=" ".join)
def test_help_has_an_example(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Example: ucp " + " ".join(command) in " ".join(result.stdout.split())


def test_every_registered_command_is_covered() -> None:
    group = typer.main.get_command(app)
    found = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        found += [[name], *([name, sub] for sub in subs or ())]
    mine = {tuple(c) for c in MINE}
    assert mine <= {tuple(c) for c in found}


def test_show_completion_prints_a_script(cli: Cli) -> None:
    result = cli.runner.invoke(app, ["--show-completion", "bash"], prog_name="ucp")
    assert result.exit_code == 0
    assert "_ucp_completion" in result.stdout
    assert "complete " in result.stdout


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("ucp reg", "1", "registry"),
        ("ucp registry a", "2", "add"),
        ("ucp install cur", "2", "cursor"),
        ("ucp registry add --from-catalog ti", "4", "time"),
    ],
)
def test_bash_completion_answers(cli: Cli, words: str, cword: str, expected: str) -> None:
    env = {"_UCP_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword}
    result = cli.runner.invoke(app, [], env=env, prog_name="ucp")
    assert expected in result.stdout.split()


def test_completion_of_registered_server_names(cli: Cli) -> None:
    assert cli("registry", "add", "toy", "--", "x").exit_code == 0
    env = {"_UCP_COMPLETE": "complete_bash", "COMP_WORDS": "ucp registry remove t", "COMP_CWORD": "3"}
    result = cli.runner.invoke(app, [], env=env, prog_name="ucp")
    assert result.stdout.split() == ["toy"]
