"""Documents UCP parses: only their own errors, whatever the bytes (ucp.safeparse, the config
loader, manuals and OpenAPI documents, the last-known lists cache, the pins file)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import json_text, json_values, yaml_text
from ucp.config.loader import read_config_file
from ucp.downstream.utcp import _parse, to_manual
from ucp.errors import ConfigError, ManualError
from ucp.pool.listcache import ListCache
from ucp.router.pins import PinStore
from ucp.safeparse import DocumentError, load_json, load_yaml


@given(json_text)
def test_load_json_raises_only_document_errors(text: str) -> None:
    try:
        load_json(text)
    except DocumentError:
        pass


@given(yaml_text)
def test_load_yaml_raises_only_document_errors(text: str) -> None:
    try:
        load_yaml(text)
    except DocumentError:
        pass


@given(st.binary(max_size=300))
def test_bytes_raise_only_document_errors(raw: bytes) -> None:
    for loader in (load_json, load_yaml):
        try:
            loader(raw)
        except DocumentError:
            pass


def _config_doc(value: Any) -> Any:
    return value


configs = st.one_of(
    json_values,
    st.fixed_dictionaries({"servers": st.dictionaries(st.text(max_size=10), json_values, max_size=3)}),
    st.fixed_dictionaries({"mcpServers": st.dictionaries(st.text(max_size=10), json_values, max_size=3)}),
    st.fixed_dictionaries({"pool": json_values, "http": json_values, "trust": json_values}),
)


@given(configs, st.sampled_from(["ucp.json", "mcp.json", "ucp.toml"]))
def test_configs_raise_only_config_errors(doc: Any, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        try:
            text = json.dumps(doc) if name.endswith(".json") else str(doc)
        except (ValueError, TypeError):
            return
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            read_config_file(path)
        except ConfigError:
            pass


manuals = st.one_of(
    json_values,
    st.fixed_dictionaries({"utcp_version": json_values, "tools": json_values}),
    st.fixed_dictionaries({"openapi": st.just("3.0.0"), "paths": json_values, "servers": json_values}),
)


@given(manuals)
def test_manuals_raise_only_manual_errors(doc: Any) -> None:
    try:
        raw = json.dumps(doc).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return
    try:
        data = _parse(raw, ".json", "fuzz.json")
        to_manual(data, server="fuzz", origin=None, where="fuzz.json")
    except ManualError:
        pass


@given(st.binary(max_size=400))
def test_state_files_never_raise(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "s.json").write_bytes(raw)
        assert ListCache(home).load("s", "fp") is None or raw
        (home / "pins.json").write_bytes(raw)
        PinStore(home / "pins.json")  # never raises; an unreadable file fails closed
