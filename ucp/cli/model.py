"""``ucp model list|promote|rollback|ab``: the versions ``ucp train`` stored and which one serves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ucp.cli.common import console, fail, print_json
from ucp.config.paths import default_paths

if TYPE_CHECKING:
    from ucp.router.models import ModelRegistry

app = typer.Typer(help="Trained router models: list, promote, roll back, A/B share.", no_args_is_help=True)


def _registry() -> ModelRegistry:
    from ucp.router.models import ModelRegistry

    return ModelRegistry(default_paths().home / "models")


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every stored version with its held-back check, and which one serves (and the A/B candidate)."""
    from ucp.router.models import BASE

    reg = _registry()
    st = reg.state()
    rows = [reg.meta(BASE)] + [reg.meta(v) for v in reg.versions()]
    if as_json:
        print_json({"state": st.to_json(), "models": rows})
        return
    t = Table(title=f"router models (serving: {st.serving})")
    for col in (
        "version",
        "kind",
        "status",
        "created",
        "pairs",
        "held-back R@5",
        "serving then",
        "CPU s",
        "",
    ):
        t.add_column(col)
    for m in rows:
        v = str(m["version"])
        flag = "serving" if v == st.serving else (f"A/B {st.ab_share:.0%}" if v == st.candidate else "")
        t.add_row(
            v,
            str(m.get("kind", "")),
            str(m.get("status", "")),
            str(m.get("created", "")),
            str(m.get("train_pairs", "")),
            str(m.get("held_recall@5", "")),
            str(m.get("serving_recall@5", "")),
            str(m.get("cpu_s", "")),
            flag,
        )
    console.print(t)


@app.command("promote")
def promote(
    version: str = typer.Argument(..., help="Version to serve (see ucp model list), or 'base'."),
    force: bool = typer.Option(False, "--force", help="Promote a version the held-back check refused."),
) -> None:
    """Serve ``version`` from now on (a running ucp serve picks it up within seconds)."""
    from ucp.router.models import ModelError

    reg = _registry()
    try:
        st = reg.promote(version, force=force)
    except ModelError as exc:
        fail(f"{exc} [{exc.code}]")
    console.print(f"serving {st.serving} (previous: {st.history[-1] if st.history else '—'})")


@app.command("rollback")
def rollback() -> None:
    """Serve the previous version again (its rankings exactly)."""
    from ucp.router.models import ModelError

    reg = _registry()
    try:
        st = reg.rollback()
    except ModelError as exc:
        fail(f"{exc} [{exc.code}]")
    console.print(f"serving {st.serving}")


@app.command("ab")
def ab(
    version: str = typer.Argument(..., help="Candidate version, or 'off'."),
    share: float = typer.Option(0.2, "--share", help="Share of sessions served the candidate."),
) -> None:
    """Serve a candidate to a share of sessions; `ucp stats` compares the hit rates."""
    from ucp.router.models import ModelError

    reg = _registry()
    try:
        st = reg.set_ab(None if version == "off" else version, share)
    except ModelError as exc:
        fail(f"{exc} [{exc.code}]")
    console.print(f"A/B: {st.candidate or 'off'} for {st.ab_share:.0%} of sessions; serving {st.serving}")
