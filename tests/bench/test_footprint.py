"""The size report: the run-time closure follows requirements and markers, rows add up, the table reads."""

from __future__ import annotations

from ucp.bench import footprint


def test_names_are_canonical() -> None:
    assert footprint.canonical("Faiss_CPU.x") == "faiss-cpu-x"


def test_requirements_follow_extras_and_markers() -> None:
    assert footprint._wanted("numpy>=1.26", set()) == ("numpy", set())
    assert footprint._wanted("torch==2.13.0; extra == 'train'", set()) is None
    assert footprint._wanted("torch==2.13.0; extra == 'train'", {"train"}) == ("torch", set())
    assert footprint._wanted("PyJWT[crypto]>=2.10", set()) == ("pyjwt", {"crypto"})
    assert footprint._wanted("pywin32; sys_platform == 'win32' and python_version < '0'", set()) is None


def test_the_closure_of_ucp_holds_its_requirements_and_theirs() -> None:
    closure = footprint.runtime_closure("ucp")
    assert "ucp" in closure["mcp"]
    assert "pydantic-core" in closure and "pydantic" in closure["pydantic-core"]  # transitive
    with_train = footprint.runtime_closure("ucp", ("train",))
    assert set(closure) <= set(with_train)


def test_report_rows_add_up_and_render() -> None:
    report = footprint.size_report()
    assert abs(report["runtime_mb"] - sum(r["mb"] for r in report["runtime"])) < 0.1 * len(report["runtime"])
    names = [r["name"] for r in report["runtime"]]
    assert "mcp" in names and not set(names) & {r["name"] for r in report["other"]}
    text = footprint.render(report, {"mcp": 12.0}, limit=3)
    assert text.splitlines()[0].startswith("run-time closure of ucp:") and "more," in text
