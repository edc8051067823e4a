"""OAuth to downstream MCP servers: the client side of the MCP authorization spec.

A remote server configured with ``oauth = true`` is reached through the MCP SDK's
``OAuthClientProvider`` (discovery from the server's 401 and protected-resource
metadata, authorization-server metadata, dynamic client registration, authorization
code + PKCE, RFC 8707 resource, refresh). What it needs to remember lives in
``UCP_HOME/oauth/<server>.json`` (0600): the registered client, the tokens and their
absolute expiry (so a restarted UCP refreshes an expired token instead of sending it).

The one step a person must do, the browser login, happens in ``ucp auth login SERVER``;
a running gateway never opens a browser: a server whose tokens are gone or cannot be
refreshed fails to connect with "run `ucp auth login SERVER`". One login serves every
user of this UCP (the downstream sees the identity that logged in, not each caller;
UCP's own callers' tokens are never forwarded).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)

from ucp.errors import DownstreamUnavailableError
from ucp.fileio import atomic_write_text

DEFAULT_PORT = 33418  # the loopback port of `ucp auth login`'s redirect URI


def redirect_uri(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}/callback"


class FileTokenStorage:
    """The SDK's ``TokenStorage`` over one JSON file (0600), with the tokens' absolute expiry."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_text(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n", new_mode=0o600)
        os.chmod(self.path, 0o600)

    @property
    def expires_at(self) -> float | None:
        value = self.read().get("expires_at")
        return float(value) if isinstance(value, (int, float)) else None

    async def get_tokens(self) -> OAuthToken | None:
        tokens = self.read().get("tokens")
        return OAuthToken.model_validate(tokens) if tokens else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        data = self.read()
        data["tokens"] = tokens.model_dump(mode="json", exclude_none=True)
        data["expires_at"] = time.time() + tokens.expires_in if tokens.expires_in else None
        data["updated_at"] = time.time()
        self._write(data)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        client = self.read().get("client")
        return OAuthClientInformationFull.model_validate(client) if client else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        data = self.read()
        data["client"] = client_info.model_dump(mode="json", exclude_none=True)
        self._write(data)

    def set_metadata(
        self, oauth: OAuthMetadata | None, resource: ProtectedResourceMetadata | None, server: str | None
    ) -> None:
        data = self.read()
        data["oauth_metadata"] = oauth.model_dump(mode="json", exclude_none=True) if oauth else None
        data["resource_metadata"] = resource.model_dump(mode="json", exclude_none=True) if resource else None
        data["auth_server_url"] = server
        self._write(data)


REFRESH_EARLY_S = 60.0  # refresh an access token this long before it expires (at most half its lifetime)


def refresh_margin(lifetime: float | None) -> float:
    """How long before its expiry a token is treated as expired. A token sent in its last moments
    can expire before the server checks it, and a 401 sends the SDK to a full login (which a
    running gateway cannot do), not to a refresh."""
    return min(REFRESH_EARLY_S, lifetime / 2) if lifetime else 0.0


class StoredOAuth(OAuthClientProvider):
    """The SDK provider, given back at start what it learnt during the login: the tokens' expiry
    and the authorization server's metadata. (The SDK keeps both in memory only, so a restarted
    UCP would send an expired token, then try to refresh at the resource server's origin.)
    Tokens are refreshed ``refresh_margin`` before they expire, not at the last moment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        context = self.context

        def early_expiry(token: OAuthToken) -> None:
            lifetime = token.expires_in
            context.token_expiry_time = (
                time.time() + lifetime - refresh_margin(lifetime) if lifetime else None
            )

        context.update_token_expiry = early_expiry  # type: ignore[method-assign]

    async def _initialize(self) -> None:
        await super()._initialize()
        storage = self.context.storage
        if isinstance(storage, FileTokenStorage):
            data = storage.read()
            expires_at = storage.expires_at
            tokens = self.context.current_tokens
            lifetime = tokens.expires_in if tokens is not None else None
            self.context.token_expiry_time = expires_at - refresh_margin(lifetime) if expires_at else None
            if data.get("oauth_metadata") and self.context.oauth_metadata is None:
                self.context.oauth_metadata = OAuthMetadata.model_validate(data["oauth_metadata"])
            if data.get("resource_metadata") and self.context.protected_resource_metadata is None:
                self.context.protected_resource_metadata = ProtectedResourceMetadata.model_validate(
                    data["resource_metadata"]
                )
            if data.get("auth_server_url") and self.context.auth_server_url is None:
                self.context.auth_server_url = str(data["auth_server_url"])

    def remember_metadata(self) -> None:
        """Store what discovery found (after a login), for the next process."""
        storage = self.context.storage
        if isinstance(storage, FileTokenStorage):
            storage.set_metadata(
                self.context.oauth_metadata,
                self.context.protected_resource_metadata,
                self.context.auth_server_url,
            )


def token_path(oauth_dir: Path, server: str) -> Path:
    return oauth_dir / f"{server}.json"


def client_metadata(scope: str | None, port: int = DEFAULT_PORT) -> OAuthClientMetadata:
    return OAuthClientMetadata(
        client_name="UCP gateway",
        redirect_uris=[redirect_uri(port)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
        scope=scope,
    )


def provider(
    server: str,
    url: str,
    oauth_dir: Path,
    *,
    scope: str | None = None,
    port: int = DEFAULT_PORT,
    redirect_handler: Callable[[str], Awaitable[None]] | None = None,
    callback_handler: Callable[[], Awaitable[AuthorizationCodeResult]] | None = None,
) -> StoredOAuth:
    """The auth for an ``httpx2`` client to ``url``. Without handlers (a running gateway) a needed
    browser login fails the connection with a clear error instead."""

    async def no_browser(_url: str) -> None:
        raise DownstreamUnavailableError(
            f"{server} needs an OAuth login: run `ucp auth login {server}`",
            server=server,
            reason="login_required",
        )

    async def no_callback() -> AuthorizationCodeResult:
        raise DownstreamUnavailableError(f"{server} needs an OAuth login", server=server)

    return StoredOAuth(
        url,
        client_metadata(scope, port),
        FileTokenStorage(token_path(oauth_dir, server)),
        redirect_handler=redirect_handler or no_browser,
        callback_handler=callback_handler or no_callback,
    )


def status(oauth_dir: Path, server: str) -> dict[str, Any]:
    """What ``ucp auth status`` shows: never a token."""
    data = FileTokenStorage(token_path(oauth_dir, server)).read()
    tokens = data.get("tokens") or {}
    expires = data.get("expires_at")
    return {
        "server": server,
        "logged_in": bool(tokens.get("access_token")),
        "expires_at": expires,
        "expired": bool(expires and expires <= time.time()),
        "refreshable": bool(tokens.get("refresh_token")),
        "scope": tokens.get("scope"),
        "client_id": (data.get("client") or {}).get("client_id"),
        "file": str(token_path(oauth_dir, server)),
    }
