"""``ucp keys``: static API keys for HTTP clients, with scopes, roles, a tenant and an expiry.

Keys live hashed in ``UCP_HOME/keys.json`` (0600); the plain key is printed once,
at creation. A running UCP picks up new and revoked keys within a second. Each
change is an ``admin`` line in the audit log.
"""

from __future__ import annotations

import time

import typer
from rich.table import Table

from ucp.cli.audit import parse_duration, record_admin
from ucp.cli.common import console, fail, print_json
from ucp.config.paths import default_paths
from ucp.errors import ConfigError
from ucp.identity import DEFAULT_TENANT
from ucp.identity.keys import KeyFile

app = typer.Typer(
    help="Static API keys for HTTP clients (hashed in UCP_HOME/keys.json).", no_args_is_help=True
)


@app.command("create")
def create(
    subject: str = typer.Option("", "--name", "-n", help="Who holds the key (shown in the audit log)."),
    scopes: list[str] = typer.Option([], "--scope", "-s", help="A scope the key carries (repeatable)."),
    roles: list[str] = typer.Option([], "--role", "-r", help="A [policy.roles] role granted (repeatable)."),
    tenant: str = typer.Option(DEFAULT_TENANT, "--tenant", "-t", help="The tenant of the key's holder."),
    expires: str | None = typer.Option(
        None, "--expires", "-e", help="Lifetime, e.g. 90d, 12h (default: none)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts)."),
) -> None:
    """Create a key and print it once (only its hash is kept).

    Example: ucp keys create --name ci --role reader --expires 90d
    """
    lifetime = parse_duration(expires) if expires else None
    plain, record = KeyFile(default_paths().keys).create(
        subject=subject, scopes=tuple(scopes), roles=tuple(roles), tenant=tenant, expires_in=lifetime
    )
    record_admin("key_created", key_id=record.id, subject=record.subject or None, tenant=tenant)
    if as_json:
        print_json({"key": plain, **record.public()})
        return
    console.print(f"key {record.id} created; it is shown only now:\n")
    console.print(plain, markup=False, highlight=False)
    console.print(
        "\nsend it as 'Authorization: Bearer <key>'; revoke it with `ucp keys revoke " + record.id + "`"
    )


def _when(value: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(value)) if value else "-"


@app.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json", help="Print JSON (for scripts).")) -> None:
    """The keys in the key store (never the keys themselves).

    Example: ucp keys list
    """
    try:
        records = KeyFile(default_paths().keys).records()
    except ConfigError as exc:
        fail(exc.message)
    now = time.time()
    rows = [r.public() for r in sorted(records.values(), key=lambda r: r.created)]
    for row in rows:
        row["state"] = (
            "revoked"
            if row["revoked"]
            else "expired"
            if row["expires"] and row["expires"] <= now
            else "active"
        )
    if as_json:
        print_json({"keys": rows})
        return
    if not rows:
        console.print("no keys yet; create one with `ucp keys create`")
        return
    table = Table(title="API keys")
    for col in ("id", "name", "tenant", "roles", "scopes", "created", "expires", "state"):
        table.add_column(col)
    for row in rows:
        table.add_row(
            row["id"],
            row["subject"] or "-",
            row["tenant"],
            ",".join(row["roles"]) or "-",
            ",".join(row["scopes"]) or "-",
            _when(row["created"]),
            _when(row["expires"]),
            row["state"],
        )
    console.print(table)


@app.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (see `ucp keys list`).")) -> None:
    """Revoke a key: a running UCP refuses it within a second.

    Example: ucp keys revoke 3f9a0c1d
    """
    try:
        record = KeyFile(default_paths().keys).revoke(key_id)
    except ConfigError as exc:
        fail(exc.message)
    record_admin("key_revoked", key_id=record.id)
    console.print(f"key {record.id} revoked")
