"""Downstream OAuth state on disk: tokens with their absolute expiry, the client, the AS metadata (0600)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken

from ucp.downstream.oauth import FileTokenStorage, provider, redirect_uri, status, token_path

pytestmark = pytest.mark.anyio


async def test_tokens_client_and_metadata_survive_a_restart(tmp_path: Path) -> None:
    path = token_path(tmp_path / "oauth", "linear")
    storage = FileTokenStorage(path)
    assert await storage.get_tokens() is None and status(tmp_path / "oauth", "linear")["logged_in"] is False
    await storage.set_tokens(
        OAuthToken(access_token="at-secret", expires_in=60, refresh_token="rt", scope="read")
    )
    client = OAuthClientInformationFull(client_id="c1", redirect_uris=[redirect_uri(1234)])  # type: ignore[list-item]
    await storage.set_client_info(client)
    metadata = OAuthMetadata(
        issuer="https://idp.test",  # type: ignore[arg-type]
        authorization_endpoint="https://idp.test/auth",  # type: ignore[arg-type]
        token_endpoint="https://idp.test/token",  # type: ignore[arg-type]
    )
    storage.set_metadata(metadata, None, "https://idp.test")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = status(tmp_path / "oauth", "linear")
    assert info["logged_in"] and info["refreshable"] and not info["expired"] and info["client_id"] == "c1"
    assert "at-secret" not in str(info)
    auth = provider("linear", "https://mcp.linear.test/mcp", tmp_path / "oauth")
    await auth._initialize()
    assert auth.context.current_tokens is not None and auth.context.current_tokens.access_token == "at-secret"
    assert auth.context.token_expiry_time is not None and auth.context.token_expiry_time > time.time()
    assert auth.context.oauth_metadata is not None
    assert str(auth.context.oauth_metadata.token_endpoint) == "https://idp.test/token"
    assert auth.context.auth_server_url == "https://idp.test"


async def test_a_token_is_refreshed_before_it_expires_not_at_the_last_moment(tmp_path: Path) -> None:
    storage = FileTokenStorage(token_path(tmp_path / "oauth", "s"))
    await storage.set_tokens(OAuthToken(access_token="a", expires_in=4, refresh_token="r"))
    auth = provider("s", "https://mcp.test/mcp", tmp_path / "oauth")
    await auth._initialize()
    expires_at = storage.expires_at
    assert expires_at is not None and auth.context.token_expiry_time is not None
    assert auth.context.token_expiry_time == pytest.approx(expires_at - 2.0)  # half of a short lifetime
    auth.context.update_token_expiry(OAuthToken(access_token="b", expires_in=3600))
    assert auth.context.token_expiry_time == pytest.approx(time.time() + 3600 - 60, abs=2)  # a minute early
    auth.context.update_token_expiry(OAuthToken(access_token="c"))
    assert auth.context.token_expiry_time is None  # no lifetime given: valid until the server says not
