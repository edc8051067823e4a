"""``ucp keys create|list|revoke`` and ``ucp audit`` (admin actions are audited, keys never printed twice)."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli
from ucp.identity.keys import KeyVerifier


def test_create_list_revoke_and_the_audit_trail(cli: Cli) -> None:
    created = cli(
        "keys", "create", "--name", "ci", "--role", "reader", "--tenant", "acme", "--expires", "90d", "--json"
    )
    assert created.exit_code == 0, created.stdout
    data = json.loads(created.stdout)
    key, key_id = data["key"], data["id"]
    assert key.startswith("ucpk_") and data["tenant"] == "acme" and data["expires"] > data["created"]
    assert KeyVerifier({}, cli.home / "keys.json").verify(key).roles == {"reader"}
    listed = json.loads(cli("keys", "list", "--json").stdout)["keys"]
    assert [(k["id"], k["state"]) for k in listed] == [(key_id, "active")]
    assert key not in cli("keys", "list").stdout and "hash" not in listed[0]
    assert cli("keys", "revoke", key_id).exit_code == 0
    assert json.loads(cli("keys", "list", "--json").stdout)["keys"][0]["state"] == "revoked"
    missing = cli("keys", "revoke", "nope")
    assert missing.exit_code == 2 and "ucp keys list" in missing.stdout + missing.stderr
    assert cli("keys", "create", "--expires", "soon").exit_code == 2
    lines = [json.loads(x) for x in cli("audit", "--json", "--event", "admin").stdout.splitlines()]
    assert [x["action"] for x in lines] == ["key_created", "key_revoked"]
    assert all(key not in json.dumps(x) for x in lines)
    table = cli("audit", "--since", "1h")
    assert table.exit_code == 0 and "key_revoked" in table.stdout
    assert "no audit lines match" in cli("audit", "--tenant", "nobody").stdout


def test_audit_summary_counts_per_tenant_tool_and_outcome(cli: Cli) -> None:
    from ucp.identity import Identity
    from ucp.policy.audit import AuditLog

    log = AuditLog(cli.home / "audit")
    acme, globex = Identity("a", tenant="acme", via="key"), Identity("g", tenant="globex", via="key")
    for who, tool, outcome in ((acme, "t__x", "ok"), (acme, "t__x", "ok"), (globex, "t__x", "denied")):
        log.record(
            "call" if outcome == "ok" else "denied", identity=who, tool=tool, outcome=outcome, duration_ms=2.0
        )
    log.close()
    rows = [json.loads(x) for x in cli("audit", "--summary", "--json").stdout.splitlines()]
    assert rows == [
        {"tenant": "acme", "tool": "t__x", "outcome": "ok", "count": 2, "mean_ms": 2.0},
        {"tenant": "globex", "tool": "t__x", "outcome": "denied", "count": 1, "mean_ms": 2.0},
    ]
    assert "globex" not in cli("audit", "--summary", "--tenant", "acme").stdout
