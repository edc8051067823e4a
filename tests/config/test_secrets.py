"""Secrets: which values count, the .env file (0600, merged, quoted) and ${VAR} falling back to it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ucp.config.loader import env_is_set, expand_env
from ucp.config.models import HttpServer, StdioServer
from ucp.config.secrets import is_secret, load_dotenv, move_secrets, read_dotenv, write_dotenv


@pytest.mark.parametrize(
    ("key", "value", "secret"),
    [
        ("GITHUB_TOKEN", "ghp_x", True),
        ("Authorization", "Bearer abc", True),
        ("X-API-Key", "k", True),
        ("DB_PASSWORD", "p", True),
        ("GITHUB_PAT", "p", True),
        ("TZ", "UTC", False),
        ("GITHUB_TOKEN", "${GITHUB_TOKEN}", False),
        ("API_KEY", "", False),
        ("PATH", "/usr/bin", False),
    ],
)
def test_is_secret(key: str, value: str, secret: bool) -> None:
    assert is_secret(key, value) is secret


def test_move_secrets_keeps_the_scheme() -> None:
    taken: dict[str, str] = {}
    server, moved = move_secrets(
        HttpServer(
            name="my-api", url="https://e.com", headers={"Authorization": "Basic dXNlcg==", "Accept": "x"}
        ),
        taken,
    )
    assert isinstance(server, HttpServer)
    assert server.headers == {"Authorization": "Basic ${MY_API_AUTHORIZATION}", "Accept": "x"}
    assert taken == {"MY_API_AUTHORIZATION": "dXNlcg=="}
    assert [m.var for m in moved] == ["MY_API_AUTHORIZATION"]
    plain = StdioServer(name="p", command="/x", env={"TZ": "UTC"})
    assert move_secrets(plain, taken) == (plain, [])


def test_dotenv_round_trip_and_permissions(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# mine\nexport KEEP='single quoted'\nOLD=1\n")
    write_dotenv(path, {"NEW": 'quote " and = sign', "OLD": "2"})
    assert read_dotenv(path) == {"KEEP": "single quoted", "OLD": "2", "NEW": 'quote " and = sign'}
    assert "# mine" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    environ = {"OLD": "shell wins"}
    assert sorted(load_dotenv(tmp_path, environ)) == ["KEEP", "NEW"]
    assert environ["OLD"] == "shell wins"


def test_references_resolve_from_the_home_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UCP_HOME", str(tmp_path))
    monkeypatch.delenv("UCP_TEST_DOTENV_SECRET", raising=False)
    assert not env_is_set("UCP_TEST_DOTENV_SECRET")
    write_dotenv(tmp_path / ".env", {"UCP_TEST_DOTENV_SECRET": "s3"})
    assert env_is_set("UCP_TEST_DOTENV_SECRET")
    assert expand_env("Bearer ${UCP_TEST_DOTENV_SECRET}") == "Bearer s3"
    with pytest.raises(Exception, match="not set"):
        expand_env("${UCP_TEST_DOTENV_SECRET}", {})  # an explicit environment is taken as it is
