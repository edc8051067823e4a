"""The audit spool: every line is on disk before the call returns, and stays there until PostgreSQL
has it (the real database: tests/integration/test_shared_audit.py)."""

from __future__ import annotations

import json
from pathlib import Path

from ucp.config.models import AuditSettings
from ucp.policy.audit import AuditLog
from ucp.state.audit import AuditShipper

UNREACHABLE = "postgresql:///ucp?host=/nonexistent-ucp-test-dir"


def test_lines_wait_in_the_spool_while_the_database_is_unreachable(tmp_path: Path) -> None:
    shipper = AuditShipper(tmp_path, UNREACHABLE, connect_timeout=1)
    log = AuditLog(tmp_path, AuditSettings(), shipper=shipper, replica="r1")
    log.record("call", tool="t__a")
    log.record("call", tool="t__b")
    spooled = [json.loads(line) for line in shipper.spool.read_text().splitlines()]
    assert [line["tool"] for line in spooled] == ["t__a", "t__b"]
    assert all(line["replica"] == "r1" and len(line["id"]) == 24 for line in spooled)
    backlog = shipper.backlog()
    assert backlog == shipper.spool.stat().st_size
    assert log.ship() == 0
    assert shipper.failing
    assert shipper.backlog() == backlog  # nothing lost, nothing marked shipped
    log.close()
    assert shipper.spool.exists()


def test_without_a_shipper_lines_carry_no_id(tmp_path: Path) -> None:
    log = AuditLog(tmp_path)
    log.record("call", tool="t")
    log.close()
    line = json.loads((tmp_path / "audit.jsonl").read_text())
    assert "id" not in line and log.ship() == 0
