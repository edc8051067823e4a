"""What an install weighs: installed size of each run-time dependency, and what importing each costs.

Why: dependencies must earn their weight (a user with four hosts runs four UCPs, and CI and every
fresh install download the closure). The installed size comes from each distribution's ``RECORD``
(the files pip wrote), summed over the run-time closure of ``ucp`` (its requirements without
extras, recursively, markers evaluated); distributions installed beside it that the closure does
not need (the ``train`` extra's torch, test tools) are listed apart. Import cost is ``python -X
importtime -c "import M"`` in a fresh interpreter per module (cumulative microseconds of M).

``ucp doctor --size`` shows the size table; ``python -m ucp.bench.footprint`` adds import costs.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")
MB = 1024 * 1024


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wanted(requirement: str, extras: set[str]) -> tuple[str, set[str]] | None:
    """(name, its extras) of a ``Requires-Dist`` line that applies here, else None."""
    try:
        from packaging.requirements import Requirement

        req = Requirement(requirement)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
            return None
        return canonical(req.name), set(req.extras)
    except ImportError:  # pragma: no cover - packaging is nearly always there; a rough reading then
        head, _, marker = requirement.partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if extra and extra.group(1) not in extras:
            return None
        m = _NAME.match(head)
        if m is None:
            return None
        inner = {e.strip() for e in (m.group(2) or "[]")[1:-1].split(",") if e.strip()}
        return canonical(m.group(1)), inner


def runtime_closure(root: str = "ucp", extras: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Installed distributions ``root`` needs at run time: name -> the names that require it."""
    seen: dict[str, list[str]] = {canonical(root): []}
    todo: list[tuple[str, set[str]]] = [(canonical(root), set(extras))]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, wanted_extras = todo.pop()
        if (name, frozenset(wanted_extras)) in done:
            continue
        done.add((name, frozenset(wanted_extras)))
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            hit = _wanted(line, wanted_extras)
            if hit is None:
                continue
            dep, dep_extras = hit
            if dep == name:  # ucp[dev] -> ucp[train]: the same distribution, more extras
                todo.append((name, wanted_extras | dep_extras))
                continue
            seen.setdefault(dep, [])
            if name not in seen[dep]:
                seen[dep].append(name)
            todo.append((dep, dep_extras))
    return seen


def dist_bytes(dist: metadata.Distribution) -> int:
    """Bytes of the files pip installed for ``dist`` (its RECORD; stat where a size is missing)."""
    total = 0
    for f in dist.files or []:
        if f.size is not None:
            total += int(f.size)
            continue
        try:
            total += Path(str(dist.locate_file(f))).stat().st_size
        except OSError:
            pass
    return total


@dataclass
class Row:
    name: str
    version: str
    bytes: int
    required_by: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "mb": round(self.bytes / MB, 1),
            "required_by": self.required_by,
        }


def size_report(root: str = "ucp", extras: tuple[str, ...] = ()) -> dict[str, Any]:
    """Installed size of the run-time closure by distribution, largest first, and of the rest."""
    closure = runtime_closure(root, extras)
    inside: list[Row] = []
    outside: list[Row] = []
    for dist in metadata.distributions():
        name = canonical(dist.metadata["Name"] or "")
        if not name:
            continue
        row = Row(name, dist.version, dist_bytes(dist), closure.get(name, []))
        (inside if name in closure else outside).append(row)
    inside.sort(key=lambda r: -r.bytes)
    outside.sort(key=lambda r: -r.bytes)
    total = sum(r.bytes for r in inside)
    return {
        "root": root,
        "extras": list(extras),
        "runtime_mb": round(total / MB, 1),
        "runtime": [r.to_dict() for r in inside],
        "other_mb": round(sum(r.bytes for r in outside) / MB, 1),
        "other": [r.to_dict() for r in outside],
        "python": sys.executable,
    }


def import_ms(module: str, python: str = sys.executable, repeats: int = 3) -> float:
    """Best-of-``repeats`` cumulative import time of ``module`` in a fresh interpreter (ms)."""
    best = float("inf")
    for _ in range(repeats):
        proc = subprocess.run(
            [python, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            return float("nan")
        for line in reversed(proc.stderr.splitlines()):
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == module:
                best = min(best, int(parts[1]) / 1000)
                break
    return best


# top-level modules of the heavy distributions (distribution names and module names differ)
MODULES = {
    "onnxruntime": "onnxruntime", "scipy": "scipy.sparse", "pandas": "pandas", "statsmodels": "statsmodels.api",
    "faiss-cpu": "faiss", "numpy": "numpy", "tokenizers": "tokenizers", "mcp": "mcp", "pydantic": "pydantic",
    "structlog": "structlog", "typer": "typer", "rich": "rich.console", "uvicorn": "uvicorn", "starlette": "starlette.applications",
    "cryptography": "cryptography.x509", "opentelemetry-sdk": "opentelemetry.sdk.trace", "utcp": "utcp",
    "jsonschema": "jsonschema", "torch": "torch", "sentence-transformers": "sentence_transformers", "lancedb": "lancedb",
    "pyarrow": "pyarrow", "ucp": "ucp.cli.main",
}  # fmt: skip


def render(report: dict[str, Any], imports: dict[str, float] | None = None, limit: int = 25) -> str:
    lines = [
        f"run-time closure of {report['root']}: {report['runtime_mb']:.1f} MB installed ({report['python']})"
    ]
    lines.append(
        f"{'distribution':<34}{'version':<16}{'MB':>8}"
        + (f"{'import ms':>11}" if imports else "")
        + "  required by"
    )
    for r in report["runtime"][:limit]:
        imp = (f"{imports[r['name']]:>11.0f}" if r["name"] in imports else " " * 11) if imports else ""
        lines.append(
            f"{r['name']:<34}{r['version']:<16}{r['mb']:>8.1f}{imp}  {', '.join(r['required_by'][:3])}"
        )
    rest = report["runtime"][limit:]
    if rest:
        lines.append(f"... {len(rest)} more, {sum(r['mb'] for r in rest):.1f} MB")
    lines.append(f"installed beside it, not needed to serve: {report['other_mb']:.1f} MB")
    for r in report["other"][:8]:
        lines.append(f"  {r['name']:<32}{r['version']:<16}{r['mb']:>8.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a bench
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--imports", action="store_true", help="also time importing each heavy distribution")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    report = size_report()
    imports = None
    if args.imports:
        names = {r["name"] for r in report["runtime"] + report["other"]}
        imports = {name: import_ms(mod) for name, mod in MODULES.items() if name in names}
        report["import_ms"] = imports
    print(json.dumps(report, indent=2) if args.json else render(report, imports))


if __name__ == "__main__":  # pragma: no cover
    main()
