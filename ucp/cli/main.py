"""The ``ucp`` command: a typer app with one sub-app per noun.

``ucp serve`` is what a host launches, so its start-up is on the host's critical path: the
entry point recognises it and runs it without typer, rich or the other commands' imports
(``ucp.cli.serving`` parses its options with argparse; see ``main``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import ucp

if TYPE_CHECKING:  # typer loads with the full CLI only (not on the `ucp serve` fast path)
    import typer

HELP = "UCP: one MCP endpoint in front of every tool you use."


def git_commit(root: Path) -> str | None:
    """The commit a source checkout at ``root`` is on (read from ``.git``, no subprocess), or None."""
    dot_git = root / ".git"
    try:
        if dot_git.is_file():  # a worktree: "gitdir: <path>"
            gitdir = Path(dot_git.read_text(encoding="utf-8").split("gitdir:", 1)[1].strip())
            gitdir = gitdir if gitdir.is_absolute() else root / gitdir
        elif dot_git.is_dir():
            gitdir = dot_git
        else:
            return None
        head = (gitdir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head[:12] or None
        ref = head[4:].strip()
        common = gitdir
        if (gitdir / "commondir").is_file():
            common = (gitdir / (gitdir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for folder in (gitdir, common):
            if (folder / ref).is_file():
                return (folder / ref).read_text(encoding="utf-8").strip()[:12]
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name.strip() == ref:
                    return sha[:12]
    except (OSError, IndexError, UnicodeDecodeError):
        return None
    return None


def version_string() -> str:
    """``ucp 0.1.0``, plus the commit when this package runs from a source checkout."""
    commit = git_commit(Path(ucp.__file__).resolve().parents[1])
    return f"ucp {ucp.__version__}" + (
        f" (commit {commit}, from {Path(ucp.__file__).resolve().parents[1]})" if commit else ""
    )


def _version(value: bool) -> None:
    import typer

    if value:
        typer.echo(version_string())
        raise typer.Exit()


def _new_app() -> typer.Typer:
    import typer

    from ucp.cli.serve import serve

    def _root(
        version: bool = typer.Option(
            False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."
        ),
    ) -> None:
        """UCP: one MCP endpoint in front of every tool you use."""

    app = typer.Typer(
        name="ucp",
        help=HELP,
        no_args_is_help=True,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    app.command("serve")(serve)
    return app


def build_app() -> typer.Typer:
    from ucp.cli import audit, auth, doctor, install, keys, registry, route, stats, tools, trust
    from ucp.cli.bench import app as bench_app

    app = _new_app()
    app.add_typer(bench_app, name="bench")
    app.add_typer(registry.app, name="registry")
    app.add_typer(tools.app, name="tools")
    app.command("install")(install.install)
    app.command("uninstall")(install.uninstall)
    app.command("doctor")(doctor.doctor)
    app.add_typer(route.app, name="route")
    app.command("index")(route.index)
    app.command("stats")(stats.stats)
    app.add_typer(trust.app, name="trust")
    app.add_typer(keys.app, name="keys")
    app.command("audit")(audit.audit)
    app.add_typer(auth.app, name="auth")
    from ucp.cli import model, train

    app.command("train")(train.train)
    app.add_typer(model.app, name="model")
    return app


def __getattr__(name: str) -> typer.Typer:
    """``ucp.cli.main.app`` (tests, CliRunner) is the full app, built on first access."""
    if name == "app":
        global _app
        if _app is None:
            _app = build_app()
        return _app
    raise AttributeError(name)


_app: typer.Typer | None = None


def main() -> None:
    argv = sys.argv[1:]
    completing = any(k.endswith("_COMPLETE") for k in os.environ)
    if argv[:1] == ["serve"] and not {"-h", "--help"} & set(argv) and not completing:
        from ucp.cli.serving import main as serve_main

        serve_main(argv[1:])  # fast path: the host is waiting for the first tools/list
        return
    __getattr__("app")()
