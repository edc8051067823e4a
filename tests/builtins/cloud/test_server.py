"""The server contract: names, annotations, schemas, the common envelope."""

from __future__ import annotations

import json

from ucp.builtins.base import BuiltinServer
from ucp.builtins.cloud.common.envelope import Envelope
from ucp.builtins.cloud.server import SERVER

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


def _cloud_imports() -> dict[str, set[str]]:
    """Module -> the ucp.builtins.cloud modules it imports (top level, in functions, TYPE_CHECKING)."""
    import ast
    from pathlib import Path

    import ucp.builtins.cloud as pkg

    root = Path(pkg.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root.parents[1]).with_suffix("")
        name = ".".join(("ucp", *rel.parts)).removesuffix(".__init__")
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("ucp.builtins.cloud")
            ):
                deps.update(f"{node.module}.{a.name}" for a in node.names)
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("ucp.builtins.cloud"))
        graph[name] = deps
    return {m: {d for d in deps if d in graph} for m, deps in graph.items()}


def test_package_init_is_import_free_and_there_is_no_import_cycle() -> None:
    graph = _cloud_imports()
    assert graph["ucp.builtins.cloud"] == set()
    packages = {m for m in graph if any(o.startswith(m + ".") for o in graph)}
    assert {"ucp.builtins.cloud.rightsizing", "ucp.builtins.cloud.common"} <= packages
    for name in packages:  # every package __init__ is import-free
        assert graph[name] == set(), name
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in graph[m]:
            if d == m or d in {s for s in graph if m.startswith(s + ".")}:
                continue  # a module importing its own package's __init__ (import-free) is no cycle
            assert state.get(d) != 1, f"import cycle: {' -> '.join([*stack, m, d])}"
            if d not in state:
                visit(d, [*stack, m])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_server_spec_string_loads_the_server() -> None:
    import importlib

    module, _, attr = "ucp.builtins.cloud.server:SERVER".partition(":")
    assert getattr(importlib.import_module(module), attr) is SERVER
