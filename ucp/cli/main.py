"""The ``ucp`` command: a typer app with one sub-app per noun."""

from __future__ import annotations

import typer

import ucp
from ucp.cli import doctor, install, registry, route, stats, tools, trust
from ucp.cli.bench import app as bench_app
from ucp.cli.serve import serve

app = typer.Typer(
    name="ucp",
    help="UCP: one MCP endpoint in front of every tool you use.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ucp {ucp.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """UCP: one MCP endpoint in front of every tool you use."""


app.command("serve")(serve)
app.add_typer(bench_app, name="bench")
app.add_typer(registry.app, name="registry")
app.add_typer(tools.app, name="tools")
app.command("install")(install.install)
app.command("doctor")(doctor.doctor)
app.add_typer(route.app, name="route")
app.command("index")(route.index)
app.command("stats")(stats.stats)
app.add_typer(trust.app, name="trust")


def main() -> None:
    app()
