"""The README's examples hold: its registry example is a valid registry, and every `ucp ...`
command line it shows names a command and options that exist (the quick start itself is
run as written by tests/integration/test_quickstart.py)."""

from __future__ import annotations

import re
import tomllib

import typer.main

from tests.helpers import ROOT
from ucp.cli.main import app
from ucp.config.loader import parse_ucp_toml

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_registry_example_is_a_valid_registry() -> None:
    """Every TOML block of the README (the registry example, then the team sections) together
    is one valid registry."""
    blocks = re.findall(r"```toml\n(.*?)```", README, re.S)
    config = parse_ucp_toml(tomllib.loads("\n".join(blocks)), file="README.md")
    assert {"time", "github", "weather"} <= set(config.servers)
    assert config.auth.resource and config.policy.roles and config.tenants and config.rate_limits.tool


def _commands() -> dict[tuple[str, ...], set[str]]:
    group = typer.main.get_command(app)
    out: dict[tuple[str, ...], set[str]] = {}
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None) or {}
        targets = {(name, s): c for s, c in subs.items()} if subs else {(name,): cmd}
        for key, command in targets.items():
            out[key] = {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("-")}
    return out


def test_every_command_line_in_the_readme_exists() -> None:
    commands = _commands()
    lines = re.findall(r"^(ucp [^#\n]*)", README, re.M)  # code blocks
    lines += re.findall(r"`(ucp [^`]*)`", README)  # inline
    checked = 0
    for line in lines:
        words = line.replace("\\|", "|").split()
        if len(words) < 2 or words[1].startswith(("-", "[")):
            continue
        key = (
            (words[1], words[2])
            if (words[1], words[2] if len(words) > 2 else "") in commands
            else (words[1],)
        )
        if key not in commands:
            group = [k for k in commands if k[0] == words[1]]
            assert group, f"README names `{line}`: no command {words[1]!r}"
            sub = words[2].split("|") if len(words) > 2 else []
            assert all((words[1], s) in commands for s in sub if re.fullmatch(r"[a-z-]+", s)), line
            continue
        for option in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", " ".join(words[len(key) + 1 :])):
            assert option in commands[key] | {"-h", "--help"}, f"README: `{line}`: {option} is not an option"
        checked += 1
    assert checked >= 15
