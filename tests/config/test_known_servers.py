"""The catalog of well-known servers: every file matches the JSON Schema and the models."""

from __future__ import annotations

import json
import site
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from ucp.config.known_servers import (
    CATALOG_ENV,
    catalog_dirs,
    find_catalog_dir,
    get_known,
    load_catalog,
    schema_path,
)
from ucp.config.models import HttpServer, SseServer, StdioServer, UtcpServer
from ucp.config.registry import server_to_toml
from ucp.errors import ConfigError, UnknownServerError

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "registry" / "catalog"
SCHEMA = ROOT / "registry" / "schema" / "registry-entry.schema.json"
FILES = sorted(CATALOG.glob("*.toml"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_required_servers_are_in_the_catalog() -> None:
    assert {"time", "git", "fetch", "filesystem", "memory", "everything"} <= {p.stem for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_catalog_file_matches_the_schema(path: Path, validator: Draft202012Validator) -> None:
    data = tomllib.loads(path.read_text())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []
    assert data["name"] == path.stem


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "x"},
        {
            "name": "a__b",
            "description": "d",
            "homepage": "https://h",
            "requires": [],
            "launch": {"type": "stdio", "command": "c"},
        },
        {
            "name": "ucp",
            "description": "d",
            "homepage": "https://h",
            "requires": [],
            "launch": {"type": "stdio", "command": "c"},
        },
        {
            "name": "x",
            "description": "d",
            "homepage": "https://h",
            "requires": [],
            "launch": {"type": "stdio"},
        },
        {
            "name": "x",
            "description": "d",
            "homepage": "https://h",
            "requires": [],
            "launch": {"type": "http", "url": "ftp://x"},
        },
        {
            "name": "x",
            "description": "d",
            "homepage": "https://h",
            "requires": [],
            "launch": {"type": "stdio", "command": "c", "url": "https://x"},
        },
        {
            "name": "x",
            "description": "d",
            "homepage": "https://h",
            "requires": [],
            "launch": {"type": "stdio", "command": "c"},
            "extra": 1,
        },
    ],
)
def test_schema_rejects_bad_entries(bad: dict[str, Any], validator: Draft202012Validator) -> None:
    assert list(validator.iter_errors(bad))


@pytest.mark.parametrize(
    "server",
    [
        StdioServer(
            name="s",
            command="c",
            args=("a",),
            env={"K": "${V}"},
            cwd="/w",
            timeout=5,
            tags=("t",),
            enabled=False,
        ),
        HttpServer(name="h", url="https://e.com/mcp", headers={"A": "b"}, max_concurrency=2, pinned=("x",)),
        SseServer(name="e", url="http://e.com/sse"),
        UtcpServer(name="u", manual="https://e.com/utcp", variables={"K": "v"}, allowed_protocols=("cli",)),
    ],
    ids=lambda s: s.type,
)
def test_registry_entries_match_the_schema_server_definition(
    server: Any, validator: Draft202012Validator
) -> None:
    """The schema's `server` definition documents exactly what the registry writer writes."""
    entry = {
        "name": "x",
        "description": "d",
        "homepage": "https://h",
        "requires": [],
        "launch": server_to_toml(server),
    }
    assert [e.message for e in validator.iter_errors(entry)] == []


def test_load_catalog_builds_valid_servers() -> None:
    catalog = load_catalog(CATALOG)
    assert set(catalog) == {p.stem for p in FILES}
    for entry in catalog.values():
        server = entry.to_server()
        assert server.name == entry.name
        assert server.description == entry.description
        assert entry.requires
        assert entry.homepage.startswith("https://")
    github = catalog["github"].to_server()
    assert isinstance(github, HttpServer)
    assert github.headers["Authorization"] == "Bearer ${GITHUB_TOKEN}"


def test_to_server_with_name_args_env() -> None:
    fs = get_known("filesystem", CATALOG).to_server("docs", extra_args=["/d"], env={"A": "1"})
    assert isinstance(fs, StdioServer)
    assert fs.name == "docs"
    assert fs.args[-1] == "/d"
    assert fs.env == {"A": "1"}
    with pytest.raises(ConfigError, match="not a stdio server"):
        get_known("github", CATALOG).to_server(extra_args=["x"])


def test_unknown_entry_suggests() -> None:
    with pytest.raises(UnknownServerError) as info:
        get_known("memroy", CATALOG)
    assert info.value.details["suggestions"] == ["memory"]


def test_catalog_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CATALOG_ENV, raising=False)
    assert find_catalog_dir() == CATALOG
    assert Path(sys.prefix) / "share" / "ucp" / "registry" / "catalog" in catalog_dirs()
    assert Path(site.getuserbase()) / "share" / "ucp" / "registry" / "catalog" in catalog_dirs()  # pip --user
    assert schema_path(CATALOG) == SCHEMA
    (tmp_path / "solo.toml").write_text(
        'name = "solo"\ndescription = "d"\nhomepage = "https://h"\nrequires = []\n[launch]\ntype = "stdio"\ncommand = "s"\n'
    )
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path))
    assert list(load_catalog()) == ["solo"]
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path / "missing"))
    assert find_catalog_dir() == CATALOG  # falls through to the next location


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ('name = "bad"\ndescription = "d"\nhomepage = "h"\n[launch]\ncommand = "c"\n', "name"),
        ('name = "entry"\ndescription = "d"\nhomepage = "h"\n', "launch"),
        ('name = "entry"\ndescription = "d"\nhomepage = "h"\nlaunch = 3\n', "launch"),
        ('name = "entry"\ndescription = "d"\nhomepage = "h"\n[launch]\ntype = "http"\n', "url"),
    ],
)
def test_broken_catalog_files_name_the_file(tmp_path: Path, content: str, field: str) -> None:
    (tmp_path / "entry.toml").write_text(content)
    with pytest.raises(ConfigError) as info:
        load_catalog(tmp_path)
    assert info.value.file == str(tmp_path / "entry.toml")
    assert info.value.field == field
