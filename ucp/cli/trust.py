"""``ucp trust``: tool definitions pinned on first use, and the changes waiting for approval."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ucp.cli.common import console, fail, print_json
from ucp.config.paths import default_paths

if TYPE_CHECKING:
    from ucp.router.pins import PinStore

app = typer.Typer(help="Tool definitions pinned on first use; approve changes.", no_args_is_help=True)


def _store() -> PinStore:
    from ucp.router.pins import PinStore

    return PinStore(default_paths().pins)


@app.command("list")
def list_changes(as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts).")) -> None:
    """Tools whose definition changed since UCP first saw them (and how many are pinned).

    Example: ucp trust list
    """
    store = _store()
    changed = list(store.changed.values())
    if as_json:
        print_json({"pinned": len(store.pins), "changed": changed})
        return
    if not changed:
        console.print(f"{len(store.pins)} tool definitions pinned; none changed since first seen")
        return
    table = Table(title="definitions changed since first seen (not approved)")
    for col in ("tool", "server", "pinned hash", "current hash"):
        table.add_column(col)
    for c in changed:
        table.add_row(c["tool"], c["server"], c["pinned"][:12], c["now"][:12])
    console.print(table)
    console.print("review each tool (`ucp tools describe NAME`), then `ucp trust approve NAME` or `--all`")


@app.command("approve")
def approve(
    names: list[str] = typer.Argument(None, help="Exposed tool names to approve."),
    all_: bool = typer.Option(False, "--all", help="Approve every changed definition."),
) -> None:
    """Accept the current definition of changed tools as the new pin.

    Example: ucp trust approve github__create_issue
    """
    if not names and not all_:
        fail("name the tools to approve, or pass --all")
    store = _store()
    unknown = [n for n in names or [] if n not in store.changed]
    if unknown:
        fail(f"not flagged as changed: {', '.join(unknown)}", hint="`ucp trust list` shows the flagged tools")
    done = store.approve(None if all_ else names)
    from ucp.cli.audit import record_admin

    record_admin("trust_approved", tools=done)
    console.print(f"approved {len(done)} definition(s): {', '.join(done) or '-'}")
