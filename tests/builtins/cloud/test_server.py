"""The server contract: names, annotations, schemas, the common envelope."""

from __future__ import annotations

import json

from ucp.builtins.base import BuiltinServer
from ucp.builtins.cloud import SERVER
from ucp.builtins.cloud.common import Envelope

EXPECTED = {
    "lookup_instance_prices",
    "rightsize_vm",
    "recommend_container_resources",
    "forecast_usage",
    "detect_anomalies",
    "recommend_spot",
    "plan_bin_packing",
    "allocate_costs",
    "plan_schedule",
    "apply_schedule",
}


def test_server_lists_the_tools() -> None:
    assert isinstance(SERVER, BuiltinServer)
    assert SERVER.name == "cloud"
    names = [t.name for t in SERVER.tools]
    assert set(names) == EXPECTED
    assert len(names) == len(set(names))
    assert all("__" not in n for n in names)


def test_only_apply_schedule_is_not_read_only() -> None:
    for t in SERVER.tools:
        if t.name == "apply_schedule":
            assert (t.annotations.read_only, t.annotations.destructive) == (False, True)
        else:
            assert (t.annotations.read_only, t.annotations.destructive) == (True, False), t.name


def test_every_output_carries_the_envelope() -> None:
    for t in SERVER.tools:
        assert issubclass(t.output_model, Envelope), t.name
        props = t.output_model.model_json_schema()["properties"]
        for field in ("method", "data_sources", "assumptions", "warnings", "confidence"):
            assert field in props, (t.name, field)


def test_input_schemas_forbid_unknown_fields_and_stay_compact() -> None:
    for t in SERVER.tools:
        schema = t.input_model.model_json_schema()
        assert schema.get("additionalProperties") is False, t.name
        for sub in schema.get("$defs", {}).values():
            if sub.get("type") == "object" and "properties" in sub:
                assert sub.get("additionalProperties") is False, (t.name, sub.get("title"))
        assert len(json.dumps(schema)) < 6000, t.name
        assert len(json.dumps(t.output_model.model_json_schema())) < 8000, t.name


def test_descriptions_cite_a_reference_system() -> None:
    refs = (
        "AWS",
        "Azure",
        "VPA",
        "Kubernetes",
        "statsmodels",
        "ESD",
        "Karpenter",
        "OpenCost",
        "Custodian",
        "MILP",
    )
    for t in SERVER.tools:
        assert any(r in t.description for r in refs), t.name
        assert t.title
        assert "cloud" in t.tags


def test_served_through_the_builtin_adapter() -> None:
    from ucp.downstream.builtin import run_tool, tool_definition

    tools = {t.name: t for t in SERVER.tools}
    ok = run_tool(tools["lookup_instance_prices"], {"instance_types": ["m5.large"]})
    assert not ok.is_error
    assert ok.structured_content is not None
    assert ok.structured_content["instances"][0]["on_demand_usd_hr"] == 0.096
    bad = run_tool(tools["rightsize_vm"], {"current_instance_type": "m5.nope", "cpu": []})
    assert bad.is_error
    assert bad.meta is not None
    assert bad.meta["ucp/error"]["field"] in ("cpu", "current_instance_type")
    typo = run_tool(tools["plan_schedule"], {"tagg": "x"})
    assert typo.is_error
    apply_def = tool_definition(tools["apply_schedule"])
    assert apply_def.annotations is not None
    assert apply_def.annotations.destructive_hint is True
