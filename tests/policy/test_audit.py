"""The audit log: JSONL lines with a keyed argument digest (no arguments by default), rotation, queries."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from ucp.config.models import AuditSettings
from ucp.identity import Identity
from ucp.policy.audit import AuditLog, files, read


def test_lines_carry_who_what_and_a_digest_never_the_arguments(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit")
    alice = Identity("alice", tenant="acme", via="jwt")
    log.record(
        "call", identity=alice, session_id="s1", tool="t__x", duration_ms=1.23456, arguments={"pw": "hunter2"}
    )
    log.record("denied", identity=alice, tool="t__y", outcome="denied", rule="policy.roles.r.deny")
    log.close()
    text = (tmp_path / "audit" / "audit.jsonl").read_text()
    assert "hunter2" not in text
    first, second = (json.loads(x) for x in text.splitlines())
    assert first["tenant"] == "acme" and first["identity"] == "alice" and first["session"] == "s1"
    assert first["duration_ms"] == 1.235 and first["args_digest"].startswith("hmac-sha256:")
    assert second["rule"] == "policy.roles.r.deny"
    assert stat.S_IMODE((tmp_path / "audit" / "audit.jsonl").stat().st_mode) == 0o600
    assert log.digest({"a": 1, "b": 2}) == log.digest({"b": 2, "a": 1})
    assert [x["event"] for x in read(tmp_path / "audit", outcome="denied")] == ["denied"]
    assert [x["tool"] for x in read(tmp_path / "audit", tool="t__*")] == ["t__x", "t__y"]


def test_full_arguments_when_configured_and_rotation_keeps_n_files(tmp_path: Path) -> None:
    log = AuditLog(tmp_path, AuditSettings(arguments="full", max_bytes=4096, keep=2))
    for i in range(200):
        log.record("call", tool=f"t__{i}", arguments={"i": i})
    log.close()
    kept = files(tmp_path)
    assert [p.name for p in kept] == ["audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"]
    lines = list(read(tmp_path))
    assert lines[-1]["arguments"] == {"i": 199}
    numbers = [int(x["tool"][3:]) for x in lines]
    assert numbers == sorted(numbers)  # oldest first across rotations
    assert not AuditLog(tmp_path / "off", AuditSettings(enabled=False)).enabled
