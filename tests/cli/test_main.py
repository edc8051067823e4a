"""The root command: --version, --help with an example on every command, shell completion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

import ucp
from tests.cli.conftest import Cli
from ucp.cli.main import app, git_commit

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
    ["uninstall"],
    ["doctor"],
]


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"ucp {ucp.__version__}")
    root = Path(ucp.__file__).resolve().parents[1]
    commit = git_commit(root)
    if (root / ".git").exists():  # run from a clone: the commit is named
        assert commit is not None and len(commit) == 12
        assert f"commit {commit}" in result.stdout


def _fake_repo(tmp_path: Path, *, packed: bool) -> Path:
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    sha = "0123456789abcdef0123456789abcdef01234567"
    if packed:
        (git / "packed-refs").write_text(f"# pack-refs\n{sha} refs/heads/main\n")
    else:
        (git / "refs" / "heads" / "main").write_text(sha + "\n")
    return git.parent


@pytest.mark.parametrize("packed", [False, True])
def test_git_commit_reads_the_checkout(tmp_path: Path, packed: bool) -> None:
    assert git_commit(_fake_repo(tmp_path, packed=packed)) == "0123456789ab"
    assert git_commit(tmp_path / "nothing") is None
    worktree = tmp_path / "wt"
    gitdir = tmp_path / "repo" / ".git" / "worktrees" / "wt"
    gitdir.mkdir(parents=True)
    (gitdir / "HEAD").write_text("ref: refs/heads/main\n")
    (gitdir / "commondir").write_text("../..\n")
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {gitdir}\n")
    assert git_commit(worktree) == "0123456789ab"


def _all_commands() -> list[list[str]]:
    group = typer.main.get_command(app)
    out: list[list[str]] = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        out += [[name, sub] for sub in subs] if subs else [[name]]
    return out


@pytest.mark.parametrize("command", _all_commands(), ids=" ".join)
def test_help_renders_every_option(cli: Cli, command: list[str]) -> None:
    """Every option appears; types read as <str>... not <list[str]>, flags carry no <bool>, and
    bracketed config sections like [http] are not eaten as markup."""
    result = cli(*command, "--help")
    assert result.exit_code == 0
    text = result.stdout
    assert "<list[" not in text and "<bool>" not in text
    click_cmd = typer.main.get_command(app)
    for word in command:
        click_cmd = click_cmd.commands[word]  # type: ignore[attr-defined]
    for param in click_cmd.params:
        for opt in param.opts:
            if opt.startswith("--"):
                assert opt in text, (opt, text)
        help_text = getattr(param, "help", None) or ""
        for section in re.findall(r"\\?\[([a-z_]+)\]", help_text):
            assert f"[{section}]" in text, (section, text)


def test_serve_help_keeps_the_http_section(cli: Cli) -> None:
    assert "[http] host" in cli("serve", "--help").stdout


_COMMAND_REF = re.compile(r"`ucp ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")


def test_every_command_named_in_a_message_exists() -> None:
    """Messages and help say `ucp X Y` in backticks; each X (and X Y, for groups) must exist."""
    commands = {tuple(c) for c in _all_commands()}
    groups = {c[0] for c in commands if len(c) == 2}
    singles = {c[0] for c in commands if len(c) == 1}
    missing = []
    for path in (Path(ucp.__file__).parent).rglob("*.py"):
        for ref in _COMMAND_REF.findall(path.read_text(encoding="utf-8")):
            words = ref.split()
            if words[0] in singles:
                continue
            if words[0] in groups and (len(words) == 1 or (words[0], words[1]) in commands):
                continue
            missing.append(f"{path.name}: `ucp {ref}`")
    assert not missing, missing


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


def test_show_completion_prints_a_script(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # typer detects the shell from the process tree (`--show-completion` takes no shell name): under
    # `make test` the parent is /bin/sh, which typer does not support, so the shell is fixed here
    import typer.completion

    monkeypatch.setattr(typer.completion, "_get_shell_name", lambda: "bash")
    result = cli.runner.invoke(app, ["--show-completion"], prog_name="ucp")
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
