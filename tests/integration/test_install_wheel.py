"""Installed like a tool: a wheel built from the tree, installed into a fresh virtualenv (what
``pipx install`` and ``uv tool install`` do), gives a ``ucp`` that finds its catalog and schema
outside any checkout and reports its version without a commit.

The throwaway venv gets the wheel without dependencies; the shared environment's packages are
put on its path by a ``.pth`` file (installing torch and the rest again would take minutes).
That shared environment's own ``ucp`` is an editable install whose import hook is not loaded
this way, so the ``ucp`` imported is the wheel's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import ucp

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(ucp.__file__).resolve().parents[1]


def _run(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 180
) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_a_wheel_installed_into_a_fresh_venv_is_a_working_ucp(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "ucp", src / "ucp", ignore=ignore)
    shutil.copytree(ROOT / "registry", src / "registry", ignore=ignore)
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("ucp-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith("data/share/ucp/registry/catalog/time.toml") for n in names)
    assert any(n.endswith("data/share/ucp/registry/schema/registry-entry.schema.json") for n in names)
    model = "ucp/router/model/all-MiniLM-L6-v2/"
    for f in ("model.safetensors", "encoder.onnx", "tokenizer.json", "LICENSE", "1_Pooling/config.json"):
        assert model + f in names, f  # the packaged model: hybrid retrieval with no download
    assert wheel.stat().st_size < 100 * 10**6  # PyPI's default upload limit per file

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    py = venv / "bin" / "python"
    site_dir = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip())
    # the wheel first: with the shared packages visible, pip would see their ucp and skip it
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # a checkout on it looks installed
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "--ignore-installed",
            "-q",
            str(wheel),
        ],
        env=clean,
        timeout=300,
    )
    assert (site_dir / "ucp" / "cli" / "main.py").is_file()
    (site_dir / "zz_shared_env.pth").write_text(sysconfig.get_path("purelib") + "\n")

    home = tmp_path / "home"
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path / "user"),
        "UCP_HOME": str(home),
    }
    ucp_bin = venv / "bin" / "ucp"
    where = _run([str(py), "-c", "import ucp; print(ucp.__file__)"], env=env, cwd=tmp_path)
    assert where.startswith(str(venv)), where  # the wheel's package, not the checkout
    version = _run([str(ucp_bin), "--version"], env=env, cwd=tmp_path)
    assert version.strip() == f"ucp {ucp.__version__}"  # no commit outside a clone
    catalog = json.loads(_run([str(ucp_bin), "registry", "catalog", "--json"], env=env, cwd=tmp_path))
    assert {"time", "git", "fetch"} <= {e["name"] for e in catalog}
    doctor = json.loads(
        subprocess.run(
            [str(ucp_bin), "doctor", "--json", "--skip-servers"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=180,
        ).stdout
    )
    checks = {c["check"]: c for c in doctor["checks"]}
    assert checks["catalog"]["status"] == "ok", checks["catalog"]
    assert checks["embedding model"]["status"] == "ok", checks["embedding model"]
    assert str(venv) in checks["embedding model"]["detail"]  # the wheel's own copy of the model
    assert str(venv / "share" / "ucp" / "registry" / "catalog") in checks["catalog"]["detail"]
    added = _run([str(ucp_bin), "registry", "add", "--from-catalog", "time", "--json"], env=env, cwd=tmp_path)
    assert json.loads(added)["added"] == "time"
    assert os.path.exists(home / "ucp.toml")
