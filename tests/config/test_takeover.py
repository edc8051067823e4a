"""Moving a host's servers into UCP and back: the host keeps only UCP, secrets go to the
home's .env (0600) as ${VAR}, and uninstall restores the file byte for byte."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ucp.config import jsonc
from ucp.config.hostfile import replace_file
from ucp.config.hosts import ucp_entry
from ucp.config.installs import drop_record, load_records, plan_uninstall
from ucp.config.registry import RegistryStore
from ucp.config.secrets import read_dotenv
from ucp.config.takeover import take_over
from ucp.errors import RegistryError

VSCODE = """// my servers
{
  "servers": {
    "gh": {"type": "http", "url": "https://api.example.com/mcp", "headers": {"Authorization": "Bearer ghp_secret123"}},
    "db": {"type": "stdio", "command": "/bin/sh", "args": ["-c", "x"], "env": {"DB_PASSWORD": "hunter2", "TZ": "UTC"}},
    "asks": {"type": "http", "url": "https://e.com/mcp", "headers": {"Authorization": "Bearer ${input:tok}"}}
  },
  "inputs": [{"type": "promptString", "id": "tok", "password": true}]
}
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, RegistryStore]:
    home = tmp_path / "home"
    host_file = tmp_path / "mcp.json"
    host_file.write_text(VSCODE)
    return home, host_file, RegistryStore(home / "ucp.toml")


def test_take_over_moves_servers_and_secrets(setup: tuple[Path, Path, RegistryStore]) -> None:
    home, host_file, store = setup
    entry = ucp_entry("vscode", command=["/abs/ucp"], env={})
    dry = take_over("vscode", host_file, store, home, entry, dry_run=True)
    assert host_file.read_text() == VSCODE and not store.path.exists()  # a dry run writes nothing
    assert sorted(dry.plan.removed) == ["db", "gh"]

    done = take_over("vscode", host_file, store, home, entry)
    after = host_file.read_text()
    assert "// my servers" in after  # comments kept
    data = jsonc.loads(after)
    assert set(data["servers"]) == {"asks", "ucp"}  # only UCP, plus what UCP cannot run
    assert data["inputs"]  # the rest of the file is untouched
    config = store.load()
    assert config.servers["gh"].headers == {"Authorization": "Bearer ${GH_AUTHORIZATION}"}  # type: ignore[union-attr]
    assert config.servers["db"].env == {"DB_PASSWORD": "${DB_DB_PASSWORD}", "TZ": "UTC"}  # type: ignore[union-attr]
    assert "ghp_secret123" not in store.path.read_text() and "hunter2" not in store.path.read_text()
    env_file = home / ".env"
    assert read_dotenv(env_file) == {"GH_AUTHORIZATION": "ghp_secret123", "DB_DB_PASSWORD": "hunter2"}
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert {(s.server, s.var) for s in done.secrets} == {("gh", "GH_AUTHORIZATION"), ("db", "DB_DB_PASSWORD")}
    assert done.backup is not None and done.backup.read_text() == VSCODE

    # uninstall: the file is still what UCP wrote, so the backup comes back byte for byte
    record = load_records(home)[str(host_file)]
    assert sorted(record.moved) == ["db", "gh"]
    plan = plan_uninstall("vscode", host_file, record)
    assert plan.action == "restore"
    replace_file(host_file, plan.before, plan.after)
    drop_record(home, host_file)
    assert host_file.read_text() == VSCODE
    assert load_records(home) == {}


def test_uninstall_after_the_user_edited_the_file(setup: tuple[Path, Path, RegistryStore]) -> None:
    home, host_file, store = setup
    take_over("vscode", host_file, store, home, ucp_entry("vscode", command=["/abs/ucp"], env={}))
    edited = jsonc.set_member(host_file.read_text(), ["servers"], "new", {"type": "stdio", "command": "/n"})
    host_file.write_text(edited)
    plan = plan_uninstall("vscode", host_file, load_records(home)[str(host_file)])
    assert plan.action == "remove"
    assert sorted(plan.restored) == ["db", "gh"]
    assert plan.after is not None
    servers = jsonc.loads(plan.after)["servers"]
    assert set(servers) == {"asks", "new", "db", "gh"}  # the user's edit kept, the moved ones back, no ucp
    assert servers["gh"]["headers"] == {"Authorization": "Bearer ghp_secret123"}


def test_a_new_file_is_deleted_on_uninstall(tmp_path: Path) -> None:
    home, path = tmp_path / "home", tmp_path / "none" / "mcp.json"
    done = take_over(
        "cursor", path, RegistryStore(home / "ucp.toml"), home, {"command": "/u", "args": ["serve"]}
    )
    assert path.exists() and done.backup is None
    plan = plan_uninstall("cursor", path, load_records(home)[str(path)])
    assert plan.action == "restore" and plan.after is None


def test_a_conflicting_ucp_entry_stops_before_anything_is_written(
    setup: tuple[Path, Path, RegistryStore],
) -> None:
    home, host_file, store = setup
    text = jsonc.set_member(VSCODE, ["servers"], "ucp", {"type": "stdio", "command": "/other"})
    host_file.write_text(text)
    with pytest.raises(RegistryError, match="--force"):
        take_over("vscode", host_file, store, home, ucp_entry("vscode", command=["/abs/ucp"], env={}))
    assert host_file.read_text() == text
    assert not store.path.exists()
    assert not (home / ".env").exists()


def test_moving_twice_reuses_the_same_variables(setup: tuple[Path, Path, RegistryStore]) -> None:
    home, host_file, store = setup
    entry = ucp_entry("vscode", command=["/abs/ucp"], env={})
    take_over("vscode", host_file, store, home, entry)
    other = home.parent / "cursor.json"
    other.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "gh": {"url": "https://api.example.com/mcp", "headers": {"Authorization": "Bearer other"}}
                }
            }
        )
    )
    again = take_over("cursor", other, store, home, {"command": "/u", "args": ["serve"]}, replace=True)
    assert again.secrets[0].var == "GH_AUTHORIZATION_2"  # a different value never overwrites a secret
    assert read_dotenv(home / ".env")["GH_AUTHORIZATION"] == "ghp_secret123"
