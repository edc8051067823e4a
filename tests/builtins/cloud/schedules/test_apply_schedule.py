"""apply_schedule: destructive, dry run by default, never pretends to have changed anything."""

from __future__ import annotations

from tests.builtins.cloud.conftest import call, error_field
from ucp.builtins.cloud.schedules import apply_schedule as apply

TOOL = apply.TOOL
TAG = "off=(M-F,19);on=(M-F,7);tz=pt"


def test_annotations_are_destructive() -> None:
    a = TOOL.annotations
    assert a.destructive is True
    assert a.read_only is False


def test_dry_run_by_default() -> None:
    out = call(TOOL, {"resource_ids": ["i-0abc", "i-0def"], "tag": TAG})
    assert out["dry_run"] is True
    assert out["applied"] is False
    assert [a["resource_id"] for a in out["actions"]] == ["i-0abc", "i-0def"]
    assert all(a["key"] == "maid_offhours" and a["value"] == TAG for a in out["actions"])
    assert "--resources i-0abc i-0def" in out["aws_cli"]
    assert "type: offhour" in out["custodian_policy"]


def test_confirm_without_adapter_changes_nothing_and_says_so() -> None:
    out = call(TOOL, {"resource_ids": ["i-0abc"], "tag": TAG, "confirm": True})
    assert out["dry_run"] is False
    assert out["applied"] is False
    assert out["live_adapter"] is None
    assert any("nothing was changed" in w for w in out["warnings"])


def test_bad_inputs() -> None:
    assert error_field(TOOL, {"resource_ids": ["i-1"], "tag": "off=(M-F,99)"}) == "tag"
    assert error_field(TOOL, {"resource_ids": ["i 1"], "tag": TAG}) == "resource_ids[0]"
    assert error_field(TOOL, {"resource_ids": [], "tag": TAG}) == "resource_ids"
    assert error_field(TOOL, {"resource_ids": ["i-1"], "tag": TAG, "confirm": "yes please"}) == "confirm"
