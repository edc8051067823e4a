"""``[state]``: embedded by default; the shared backend needs a well-formed URL, never echoed back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ucp.config.models import Config, StateSettings
from ucp.errors import ConfigError
from ucp.state import open_state


def test_default_is_embedded_and_opens_no_client() -> None:
    state = open_state(Config().state)
    assert state.backend == "embedded"
    assert not state.shared
    with pytest.raises(RuntimeError):
        _ = state.redis


def test_redis_backend_needs_a_url() -> None:
    with pytest.raises(ValidationError, match="needs redis_url"):
        StateSettings(backend="redis")


def test_malformed_urls_are_refused_without_showing_them() -> None:
    with pytest.raises(ValidationError) as info:
        StateSettings(backend="redis", redis_url="http://user:hunter2@host:6379")
    assert "hunter2" not in str(info.value).split("input_value")[0]
    assert "not a Redis URL" in str(info.value)
    with pytest.raises(ValidationError, match="not a PostgreSQL URL"):
        StateSettings(backend="redis", redis_url="redis://h:6379", postgres_url="mysql://x@h/db")


def test_variables_are_expanded_when_opened_and_checked_then() -> None:
    settings = StateSettings(
        backend="redis", redis_url="${R_URL}", postgres_url="${PG_URL}", namespace="team_a"
    )
    state = open_state(
        settings, {"R_URL": "redis://:s3cret-pass@127.0.0.1:6380/2", "PG_URL": "postgresql://u@h/db"}
    )
    assert state.redis_url == "redis://:s3cret-pass@127.0.0.1:6380/2"
    assert state.key("learn", "tool") == "team_a:learn:tool"
    with pytest.raises(ConfigError, match="not a Redis URL once expanded") as info:
        open_state(settings, {"R_URL": "nope://s3cret-pass", "PG_URL": "postgresql://u@h/db"})
    assert "s3cret-pass" not in info.value.message
    with pytest.raises(ConfigError, match="R_URL is not set"):
        open_state(settings, {})


def test_namespace_is_a_plain_identifier() -> None:
    with pytest.raises(ValidationError):
        StateSettings(namespace="a:b")


def test_the_registry_accepts_a_state_section() -> None:
    import tomllib

    from ucp.config.loader import parse_ucp_toml

    data = tomllib.loads('[state]\nbackend = "redis"\nredis_url = "${UCP_REDIS_URL}"\n')
    assert parse_ucp_toml(data).state.backend == "redis"
