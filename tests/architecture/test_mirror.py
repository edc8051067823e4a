"""Tests mirror ``ucp/``: every module has a test module and every test module a module, so a
newcomer finds a module's tests (and a test's subject) from its path alone.

The rule: ``ucp/a/b.py`` is tested by ``tests/a/test_b.py``; ``ucp/x.py`` by ``tests/test_x.py``.
Package ``__init__.py``/``__main__.py`` files need no test module of their own (a package's
public API may be tested by ``test_init.py`` beside its other tests). Three kinds of test files
are outside the mirror by design: the tiers organised by feature rather than by module
(``tests/integration``, real processes end to end; ``tests/architecture``, the package as a
whole), the layer test ``tests/test_architecture.py``, and tests of the repository's own
top-level folders (``tests/test_examples.py`` tests ``examples/``).

Today's exceptions are listed in ``tests/mirror_allowlist.txt``, one path a line. The list may
only shrink: a listed path that is no longer an exception fails the test too, so whoever adds
the missing test (or the missing module) deletes its line. Regenerate it after a move with
``python -m tests.architecture.test_mirror --write``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "ucp"
TESTS = "tests"
BY_FEATURE = ("integration", "architecture", "fuzz")  # tests/<dir> organised by feature, not by module
WHOLE_PACKAGE = ("test_architecture.py",)  # tests/<file> about the package as a whole
NO_TEST_NEEDED = ("__init__.py", "__main__.py")
ALLOWLIST = ROOT / TESTS / "mirror_allowlist.txt"


def expected_test(module: Path) -> Path:
    """``ucp/a/b.py`` -> ``tests/a/test_b.py`` (paths relative to the repository root)."""
    return Path(TESTS, *module.parts[1:-1], f"test_{module.name}")


def _relative(paths: list[Path], root: Path) -> set[Path]:
    return {p.relative_to(root) for p in paths}


def violations(root: Path = ROOT) -> set[str]:
    """Modules without a test module and test modules without a module, as POSIX paths."""
    sources = [
        p for p in _relative(list((root / PACKAGE).rglob("*.py")), root) if "__pycache__" not in p.parts
    ]
    modules = {p for p in sources if p.name not in NO_TEST_NEEDED}
    packages = {p for p in sources if p.name == "__init__.py"}
    tests = {
        p
        for p in _relative(list((root / TESTS).rglob("test_*.py")), root)
        if not (len(p.parts) > 2 and p.parts[1] in BY_FEATURE)
        and not (len(p.parts) == 2 and p.name in WHOLE_PACKAGE)
    }
    mirrored = {expected_test(m) for m in modules} | {expected_test(p.with_name("init.py")) for p in packages}
    folders = {Path(TESTS, f"test_{d.name}.py") for d in root.iterdir() if d.is_dir()}
    untested = {m for m in modules if expected_test(m) not in tests}
    orphans = {t for t in tests if t not in mirrored and t not in folders}
    return {p.as_posix() for p in untested | orphans}


def read_allowlist(path: Path = ALLOWLIST) -> set[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def render_allowlist(entries: set[str]) -> str:
    head = (
        "# Exceptions to the tests-mirror-ucp rule (tests/architecture/test_mirror.py), one path a line.\n"
        "# This list may only shrink: add the missing test (or module) and delete its line.\n"
        "# Regenerate after a move: python -m tests.architecture.test_mirror --write\n"
    )
    return head + "".join(f"{e}\n" for e in sorted(entries))


def test_every_module_has_a_test_module_and_back() -> None:
    found = violations()
    new = sorted(found - read_allowlist())
    assert not new, (
        "not mirrored (ucp/a/b.py <-> tests/a/test_b.py): "
        + ", ".join(new)
        + ". Add the test module (or move the test next to its module's path)."
    )


def test_the_allowlist_only_shrinks() -> None:
    stale = sorted(read_allowlist() - violations())
    assert not stale, f"no longer exceptions, delete their lines from {ALLOWLIST.name}: " + ", ".join(stale)


def test_the_rule_maps_paths_both_ways(tmp_path: Path) -> None:
    for rel in ("ucp/__init__.py", "ucp/a/b.py", "ucp/a/__init__.py", "ucp/top.py", "ucp/lonely.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    for rel in (
        "tests/a/test_b.py",
        "tests/test_top.py",
        "tests/test_orphan.py",
        "tests/test_docs.py",
        "tests/test_init.py",
        "tests/test_architecture.py",
        "tests/a/test_init.py",
        "tests/b/test_init.py",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    (tmp_path / "tests/integration").mkdir()
    (tmp_path / "tests/integration/test_end_to_end.py").write_text("")
    (tmp_path / "docs").mkdir()
    assert violations(tmp_path) == {"ucp/lonely.py", "tests/test_orphan.py", "tests/b/test_init.py"}


if __name__ == "__main__":  # pragma: no cover - the regeneration command
    if sys.argv[1:] == ["--write"]:
        ALLOWLIST.write_text(render_allowlist(violations()))
        print(f"wrote {len(violations())} exceptions to {ALLOWLIST.relative_to(ROOT)}")
    else:
        sys.stdout.write(render_allowlist(violations()))
