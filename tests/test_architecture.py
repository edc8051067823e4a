"""The layers of docs/DESIGN.md, enforced: every ``import`` of a ``ucp`` module — at module level,
inside functions and under ``TYPE_CHECKING`` — must follow the layer graph below. Known exceptions
are listed in ``ALLOWED`` and may only shrink: an entry that no longer occurs fails the test too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "ucp"

FOUNDATION = {"errors", "log", "naming", "fileio", "events", "config", "safeparse"}

# component -> the components it may import (besides itself). Read top-down: a request goes
# cli -> app -> frontend -> session -> router | pool -> downstream -> builtins, over the foundation.
LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "fileio": set(),
    "naming": set(),
    "log": set(),
    "safeparse": set(),  # bounded JSON/YAML parsing, for every document UCP reads
    "events": {"log"},
    "config": {"errors", "fileio", "naming", "log", "safeparse"},
    # metrics, traces, call records, analytics: over the foundation only, so every layer may report to it
    "observe": {"config", "errors", "fileio", "log"},
    # where state lives: embedded, or Redis and PostgreSQL shared by replicas (clients, data-level stores)
    "state": {"config", "errors", "log"},
    "builtins": FOUNDATION,
    "downstream": FOUNDATION | {"builtins", "observe"},
    "pool": FOUNDATION | {"downstream", "state"},
    "router": FOUNDATION | {"state"},
    "identity": FOUNDATION,  # who is calling: API keys, OAuth tokens -> Identity
    "policy": FOUNDATION | {"identity", "state"},  # what an identity may do, how often, and the audit log
    "session": FOUNDATION | {"router", "pool", "downstream", "observe", "identity", "policy", "state"},
    "frontend": FOUNDATION | {"session", "observe", "identity", "state"},
    "app": FOUNDATION
    | {"session", "router", "pool", "downstream", "frontend", "observe", "identity", "policy", "state"},
    "bench": FOUNDATION
    | {
        "session",
        "router",
        "pool",
        "downstream",
        "frontend",
        "app",
        "builtins",
        "observe",
        "identity",
        "policy",
        "state",
    },
    "cli": FOUNDATION
    | {
        "session",
        "router",
        "pool",
        "downstream",
        "frontend",
        "app",
        "builtins",
        "bench",
        "observe",
        "identity",
        "policy",
        "state",
    },
    "__main__": {"cli"},
    "__init__": FOUNDATION | {"app", "session"},  # the public API (lazy, see ucp/__init__.py)
}

# (importing module, imported module): known violations, to be removed, never added to.
ALLOWED: set[tuple[str, str]] = set()  # emptied when the cloud manual generator left the runtime package


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _component(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _imports(path: Path, module_name: str | None = None) -> set[str]:
    """Every ucp module ``path`` imports, wherever the import statement is."""
    found: set[str] = set()
    name = module_name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == "ucp" or a.name.startswith("ucp."))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module == "ucp" or module.startswith("ucp."):
                found.add(module)
                for alias in node.names:  # `from ucp.x import y` where y is a module
                    candidate = f"{module}.{alias.name}"
                    if (ROOT.parent / Path(*candidate.split("."))).with_suffix(".py").exists():
                        found.add(candidate)
    return found


def edges() -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for path in sorted(ROOT.rglob("*.py")):
        source = _module_name(path)
        for target in _imports(path):
            out.add((source, target))
    return out


def violations() -> set[tuple[str, str]]:
    bad: set[tuple[str, str]] = set()
    for source, target in edges():
        src, dst = _component(source), _component(target)
        if target == "ucp" and source != "ucp":
            continue  # `import ucp` for ucp.__version__ is fine everywhere
        if src == dst:
            continue
        if dst not in LAYERS.get(src, set()):
            bad.add((source, target))
    return bad


def test_every_component_is_placed_in_a_layer() -> None:
    components = {_component(_module_name(p)) for p in ROOT.rglob("*.py")}
    assert components <= set(LAYERS), f"put these in LAYERS: {sorted(components - set(LAYERS))}"


def test_imports_follow_the_layers() -> None:
    new = violations() - ALLOWED
    assert not new, "imports against the layers (see docs/DESIGN.md §3):\n" + "\n".join(
        f"  {s} -> {t}" for s, t in sorted(new)
    )


def test_the_allow_list_only_shrinks() -> None:
    stale = ALLOWED - violations()
    assert not stale, f"these exceptions are gone: remove them from ALLOWED: {sorted(stale)}"


def test_fronts_never_touch_the_composition_root_or_the_parts_below_the_session_api() -> None:
    for source, target in edges():
        if _component(source) == "frontend":
            assert _component(target) not in {"app", "router", "pool", "downstream", "cli"}, (source, target)


def test_the_walker_sees_every_kind_of_import(tmp_path: Path) -> None:
    """An import hidden in a function, under TYPE_CHECKING or relative is an import all the same."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ucp.app import Gateway\n"
        "def f() -> None:\n    from ucp.pool import pool\n    import ucp.router.catalog\n"
        "from ..session import api\n"
    )
    found = _imports(probe, "ucp.frontend.probe")
    assert {"ucp.app", "ucp.pool", "ucp.pool.pool", "ucp.router.catalog", "ucp.session.api"} <= found
