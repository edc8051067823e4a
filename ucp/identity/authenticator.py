"""One question for the HTTP front: who does this ``Authorization`` header belong to?

Static API keys are looked up first (a hash and a dict lookup); anything else is
an OAuth access token when OAuth is configured (``tokens.py``). The answer is an
``Identity`` or an ``AuthError`` whose ``reason`` the front turns into the
``WWW-Authenticate`` error (``invalid_token`` / ``insufficient_scope``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ucp.config.models import AuthSettings, HttpSettings
from ucp.errors import AuthError
from ucp.identity import Identity
from ucp.identity.keys import KeyVerifier, config_keys

if TYPE_CHECKING:
    from ucp.identity.tokens import TokenVerifier


class Authenticator:
    def __init__(
        self,
        auth: AuthSettings,
        http: HttpSettings,
        env: Mapping[str, str],
        *,
        key_file: Path | None = None,
        tokens: TokenVerifier | None = None,
    ) -> None:
        self.settings = auth
        self.keys = KeyVerifier(config_keys(auth, http, env), key_file)
        if tokens is None and auth.resource and auth.issuer:
            from ucp.identity.tokens import TokenVerifier  # PyJWT + cryptography: only with OAuth

            tokens = TokenVerifier(auth, env)
        self.tokens = tokens

    @property
    def oauth(self) -> bool:
        return self.tokens is not None

    @property
    def enabled(self) -> bool:
        """Requests must authenticate (OAuth configured or any key exists)."""
        return self.oauth or self.keys.configured

    async def authenticate(self, authorization: str | None) -> Identity:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError("this UCP needs a bearer token (Authorization: Bearer <token>)", reason="missing")
        token = authorization[7:].strip()
        if not token:
            raise AuthError("the bearer token is empty", reason="missing")
        try:
            return self.keys.verify(token)
        except AuthError as exc:
            if self.tokens is None or exc.details.get("reason") != "unknown_key":
                raise
        return await self.tokens.verify(token)

    async def aclose(self) -> None:
        if self.tokens is not None:
            await self.tokens.aclose()
