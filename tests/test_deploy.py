"""deploy/ files parse and refer to things that exist (no Docker engine on CI machines)."""

from __future__ import annotations

import re

import yaml

from tests.helpers import ROOT
from ucp.config.loader import read_config_file

DEPLOY = ROOT / "deploy"


def test_dockerfile_copies_existing_paths() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (.+) \S+$", text, flags=re.M):
        for part in src.split():
            assert (ROOT / part).exists(), f"Dockerfile copies {part}, which does not exist"
    assert "torch==2.13.0" in text
    assert "/healthz" in text


def test_yaml_parses_and_registry_is_valid() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert "ucp" in compose["services"]
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "ucp.yaml").read_text()))
    kinds = {d["kind"] for d in docs}
    assert kinds == {"Secret", "ConfigMap", "StatefulSet", "Service"}
    config = read_config_file(DEPLOY / "ucp.toml").config
    assert config.http.host == "0.0.0.0"
