"""``ucp doctor``: is this installation able to run? One row per check with what to do about it.

Servers are checked the way a host will run them: a host launches ``ucp serve`` with a
minimal environment (launchd's PATH on macOS, a desktop launcher's on Linux; none of the
shell's variables), so doctor checks commands against that PATH and starts every server
with that environment (plus ``UCP_HOME``/``UCP_CONFIG`` and ``$UCP_HOME/.env``), not the
shell's. ``--shell-env`` checks with the shell's instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
from ucp.config.paths import CONFIG_ENV, HOME_ENV, Paths, config_path, default_paths
from ucp.config.registry import HOST_PATH
from ucp.config.secrets import dotenv_value
from ucp.errors import UCPError

Status = Literal["ok", "warn", "fail"]
PACKAGES = (
    "mcp",
    "anyio",
    "pydantic",
    "typer",
    "faiss-cpu",
    "onnxruntime",
    "tokenizers",
    "utcp",
)
REQUIRED = {"mcp", "anyio", "pydantic", "typer"}  # without these UCP cannot start at all
NODE_COMMANDS = {"npx", "node", "npm", "pnpm", "pnpx"}
MIN_PYTHON = (3, 11)


HOST_VARS = ("HOME", "USER", "LOGNAME", "SHELL", "LANG", "TMPDIR")


def host_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a host gives the ``ucp serve`` it launches (what ``ucp install`` writes:
    only ``UCP_HOME`` / ``UCP_CONFIG`` on top of the host's own minimal one)."""
    env = os.environ if environ is None else environ
    if not HOST_PATH:  # Windows: hosts pass the user's environment
        return dict(env)
    out = {k: env[k] for k in HOST_VARS if env.get(k)}
    out.update({k: env[k] for k in (HOME_ENV, CONFIG_ENV) if env.get(k)})
    out["PATH"] = HOST_PATH
    return out


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run a block (the server probes) with exactly ``env`` as the process environment."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


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
        from ucp.router.embedder import PACKAGED_MODEL

        location = PACKAGED_MODEL
        missing = [
            f for f in ("model.safetensors", "tokenizer.json", "encoder.onnx") if not (location / f).is_file()
        ]
        if missing:
            return Check(
                "embedding model",
                "fail",
                f"{location}: {', '.join(missing)} missing (the model packaged with ucp)",
                "reinstall ucp (pip install --force-reinstall ucp)",
            )
    if not deep:
        return Check("embedding model", "ok", f"{location} (present offline; --deep loads it)")
    try:
        from ucp.router.embedder import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder(name or None)
        dims = len(embedder.encode(["ucp doctor"])[0])
    except Exception as exc:  # any failure to load is the finding itself
        return Check(
            "embedding model",
            "fail",
            f"{location}: cannot load: {exc}",
            "reinstall ucp; a model that is not a plain BERT needs the train extra: pip install 'ucp[train]'",
        )
    return Check(
        "embedding model", "ok", f"{location} loads and encodes ({dims} dimensions, {embedder.query_backend})"
    )


def check_home(paths: Paths) -> Check:
    try:
        paths.ensure()
        with tempfile.NamedTemporaryFile(dir=paths.home, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data dir", "fail", f"{paths.home}: {exc}", "set UCP_HOME to a writable directory")
    return Check("data dir", "ok", f"{paths.home} is writable")


def check_catalog() -> Check:
    """The catalog of well-known servers and its schema: found wherever ucp was installed from."""
    from ucp.config.known_servers import catalog_dirs, find_catalog_dir, load_catalog, schema_path

    folder = find_catalog_dir()
    if folder is None:
        return Check(
            "catalog",
            "warn",
            f"not found (looked in {', '.join(str(d) for d in catalog_dirs())})",
            "reinstall ucp from its wheel, or set UCP_CATALOG_DIR; `ucp registry add --from-catalog` needs it",
        )
    try:
        entries = load_catalog(folder)
    except UCPError as exc:
        return Check("catalog", "fail", exc.message, "reinstall ucp")
    schema = schema_path(folder)
    if not schema.is_file():
        return Check(
            "catalog", "warn", f"{len(entries)} servers in {folder}; no schema at {schema}", "reinstall ucp"
        )
    return Check("catalog", "ok", f"{len(entries)} servers in {folder} (schema {schema.name})")


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


def _fix_command(name: str, server: StdioServer, found: str) -> str:
    args = " ".join([found, *server.args])
    return f"register its absolute path: ucp registry add {name} --replace -- {args}"


def check_commands(cfg: Config, env: Mapping[str, str], home: Path) -> list[Check]:
    """Node for npx servers, the ${VAR}s each server needs, and each command, as seen with ``env``."""
    out = []
    path = env.get("PATH")
    stdio = [s for s in cfg.servers.values() if s.enabled and isinstance(s, StdioServer)]
    if any(Path(s.command).name in NODE_COMMANDS for s in stdio):
        node = shutil.which("node", path=path)
        if node is None:
            out.append(
                Check(
                    "node",
                    "fail",
                    f"a server runs through npx/node but node is not on the PATH hosts give UCP ({path})",
                    "install Node.js 20 or newer; register npx by its absolute path (ucp registry add resolves it)",
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
        refs = {r for v in _strings(s.model_dump(mode="json")) for r in env_refs(v)}
        missing = sorted(r for r in refs if r not in env and dotenv_value(home, r) is None)
        if missing:
            in_shell = [r for r in missing if r in os.environ]
            out.append(
                Check(
                    f"env {s.name}",
                    "fail",
                    f"not set where a host runs UCP: {', '.join(missing)}"
                    + (f" ({', '.join(in_shell)} only in this shell)" if in_shell else ""),
                    f"put {missing[0]}=... in {home / '.env'} (mode 0600; UCP reads it), or remove the reference",
                )
            )
        if isinstance(s, StdioServer) and "${" not in s.command:
            if os.path.isabs(s.command):
                if not (os.path.isfile(s.command) and os.access(s.command, os.X_OK)):
                    out.append(
                        Check(
                            f"command {s.name}",
                            "fail",
                            f"{s.command} does not exist or is not executable",
                            "install it, or fix the path in the registry",
                        )
                    )
            elif shutil.which(s.command, path=path) is None:
                shell = shutil.which(s.command)
                detail = (
                    f"{s.command!r} is found in this shell ({shell}) but not on the PATH hosts give UCP ({path})"
                    if shell
                    else f"{s.command!r} is not found on PATH"
                )
                fix = (
                    _fix_command(s.name, s, shell) if shell else "install it, then register its absolute path"
                )
                out.append(Check(f"command {s.name}", "fail", detail, fix))
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def check_servers(
    cfg: Config, paths: Paths, timeout: float, env: Mapping[str, str] | None = None
) -> list[Check]:
    """Start every enabled server (with ``env``, default the shell's) and list its tools."""
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
        if env is None:
            probes = anyio.run(probe_servers, cfg, home, None, timeout)
        else:
            with environment(env):
                probes = anyio.run(probe_servers, cfg, home, None, timeout)
    how = "started as a host starts it" if env is not None else "started with this shell's environment"
    return [
        Check(f"server {p.name}", "ok", f"{p.tools} tools, connected in {p.latency_ms or 0:.0f} ms ({how})")
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
        bool, typer.Option("--deep", help="Also load the embedding model (ONNX Runtime; slower).")
    ] = False,
    size: Annotated[
        bool,
        typer.Option(
            "--size",
            help="Report the installed size of each run-time dependency instead (with --json: JSON).",
        ),
    ] = False,
    skip_servers: Annotated[
        bool, typer.Option("--skip-servers", help="Do not connect to the registered servers.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for each server.")
    ] = 20.0,
    shell_env: Annotated[
        bool,
        typer.Option(
            "--shell-env",
            help="Check servers with this shell's environment instead of the minimal one hosts give.",
        ),
    ] = False,
) -> None:
    """Check the installation and say what to fix; exits 1 on any failed check.

    Checks Python, key packages, the offline embedding model, the data dir, the config, the
    commands and environment variables servers need, and that every enabled server answers when
    started the way a host starts UCP (a minimal PATH, none of the shell's variables).

    Example: ucp doctor --skip-servers
    Example: ucp doctor --size
    """
    if size:
        from ucp.bench.footprint import render, size_report

        report = size_report()
        if as_json:
            print_json(report)
        else:
            console.print(render(report), highlight=False, markup=False, soft_wrap=True)
        return
    paths = default_paths()
    config_check, loaded = check_config(config)
    cfg = loaded.config if loaded else None
    checks = [
        check_python(),
        *check_packages(),
        check_model(cfg, deep),
        check_home(paths),
        check_catalog(),
        config_check,
    ]
    if cfg is not None:
        env = dict(os.environ) if shell_env else host_env()
        checks += check_commands(cfg, env, paths.home)
        if not skip_servers:
            checks += check_servers(cfg, paths, timeout, None if shell_env else env)
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
