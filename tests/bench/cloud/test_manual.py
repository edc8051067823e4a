"""The UTCP manual in manuals/ is generated from the tool definitions and must not be stale."""

from __future__ import annotations

import json

import pytest

from ucp.bench.cloud.manual import LISTING_PATH, MANUAL_PATH, generate_listing, generate_manual, render
from ucp.builtins.cloud.server import SERVER


def test_manual_file_is_up_to_date() -> None:
    assert MANUAL_PATH.is_file(), "run `python -m ucp.bench.cloud.manual`"
    fresh = render(generate_manual())
    if MANUAL_PATH.read_text(encoding="utf-8") != fresh:
        pytest.fail("manuals/cloud.utcp.json is stale: run `python -m ucp.bench.cloud.manual`", pytrace=False)


def test_listing_file_is_up_to_date() -> None:
    """UCP answers the first tools/list from this file, so it must match the code exactly."""
    assert LISTING_PATH.is_file(), "run `python -m ucp.bench.cloud.manual`"
    if json.loads(LISTING_PATH.read_text(encoding="utf-8")) != generate_listing():
        pytest.fail(
            "ucp/builtins/cloud/tools.json is stale: run `python -m ucp.bench.cloud.manual`", pytrace=False
        )


def test_manual_content() -> None:
    manual = generate_manual("http://example.test:9")
    names = [t["name"] for t in manual["tools"]]
    assert names == sorted(f"cloud__{t.name}" for t in SERVER.tools)
    first = manual["tools"][0]
    assert first["tool_call_template"]["url"].startswith("http://example.test:9/utcp/tools/cloud__")
    by_name = {t["name"]: t for t in manual["tools"]}
    rs = by_name["cloud__rightsize_vm"]
    assert rs["inputs"]["properties"]["body"]["required"] == ["current_instance_type", "cpu"]
    assert "method" in rs["outputs"]["properties"]


def test_manual_is_valid_utcp() -> None:
    from utcp.data.utcp_manual import UtcpManualSerializer

    manual = UtcpManualSerializer().validate_dict(generate_manual())
    assert len(manual.tools) == len(SERVER.tools)
