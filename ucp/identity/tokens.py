"""OAuth 2.1 access tokens, checked the way the MCP authorization spec asks a resource server to.

JWTs are verified with PyJWT (+ ``cryptography``) against the issuer's JWKS:
signature (only the configured algorithms; never ``none``), ``exp``/``nbf``
with a small leeway, ``iss`` equal to the configured issuer and ``aud`` naming
this UCP's resource URI (RFC 8707), so a token minted for another service is
refused. The JWKS URL comes from the config or the issuer's discovery document
(OpenID or RFC 8414); keys are cached for ``jwks_cache_seconds`` and refetched at
once (at most every ``REFETCH_SECONDS``) when a token names an unknown ``kid``:
that is how key rotation is picked up. A verified token is remembered by its
SHA-256 until it expires (at most ``TOKEN_CACHE_SECONDS``), which keeps the
per-request cost at a dictionary lookup. Opaque tokens go to the RFC 7662
introspection endpoint when one is configured. Tokens are never logged.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import jwt
from jwt import PyJWK, PyJWKSet

from ucp.config.models import AuthSettings
from ucp.errors import AuthError, ConfigError
from ucp.identity import DEFAULT_TENANT, Identity
from ucp.log import get_logger

log = get_logger("ucp.auth")

REFETCH_SECONDS = 10.0
TOKEN_CACHE_SECONDS = 60.0
TOKEN_CACHE_SIZE = 4096


def discovery_urls(issuer: str) -> list[str]:
    """OpenID discovery, then RFC 8414 (well-known inserted before the issuer's path)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    base = f"{parts.scheme}://{parts.netloc}"
    return [
        f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        f"{base}/.well-known/oauth-authorization-server{path}",
    ]


def _claim_list(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, (list, tuple)):
        return frozenset(str(v) for v in value)
    return frozenset()


def identity_from_claims(claims: Mapping[str, Any], settings: AuthSettings, via: str) -> Identity:
    subject = claims.get(settings.subject_claim) or claims.get("sub") or claims.get("client_id")
    if not subject:
        raise AuthError("the token names no subject", reason="no_subject")
    tenant = claims.get(settings.tenant_claim)
    exp = claims.get("exp")
    return Identity(
        subject=str(subject),
        tenant=str(tenant) if tenant else DEFAULT_TENANT,
        via=via,
        scopes=_claim_list(claims.get(settings.scope_claim)),
        groups=_claim_list(claims.get(settings.groups_claim)),
        client_id=str(claims.get("client_id") or claims.get("azp") or "") or None,
        expires_at=float(exp) if isinstance(exp, (int, float)) else None,
    )


class TokenVerifier:
    """Access token -> ``Identity``, or ``AuthError`` saying what was wrong (never the token)."""

    def __init__(
        self,
        settings: AuthSettings,
        env: Mapping[str, str],
        *,
        client: httpx2.AsyncClient | None = None,
    ) -> None:
        if not settings.resource or not settings.issuer:
            raise ConfigError("OAuth needs both [auth] resource and [auth] issuer", field="auth.issuer")
        self.settings = settings
        self.issuer = settings.issuer
        self.resource = settings.resource
        self.audiences = list(settings.audience) or sorted({self.resource, self.resource.rstrip("/")})
        self._env = env
        self._client = client
        self._jwks_url = settings.jwks_url
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = anyio.Lock()
        self._verified: OrderedDict[str, tuple[Identity, float]] = OrderedDict()

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(timeout=10.0, follow_redirects=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # ------------------------------------------------------------ JWKS
    async def _discover(self) -> str:
        for url in discovery_urls(self.issuer):
            try:
                response = await self._http().get(url)
            except httpx2.HTTPError:
                continue
            if response.status_code == 200:
                jwks_uri = response.json().get("jwks_uri")
                if isinstance(jwks_uri, str) and jwks_uri:
                    return jwks_uri
        raise AuthError("cannot reach the identity provider's discovery document", reason="idp_unreachable")

    async def refresh_keys(self) -> None:
        if self._jwks_url is None:
            self._jwks_url = await self._discover()
        try:
            response = await self._http().get(self._jwks_url)
            response.raise_for_status()
            keyset = PyJWKSet.from_dict(response.json())
        except (httpx2.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning("jwks_fetch_failed", url=self._jwks_url, error=type(exc).__name__)
            raise AuthError("cannot fetch the identity provider's keys", reason="idp_unreachable") from None
        self._keys = {k.key_id or "": k for k in keyset.keys}
        self._fetched_at = time.monotonic()
        log.info("jwks_loaded", keys=len(self._keys))

    async def signing_key(self, kid: str) -> PyJWK:
        stale = time.monotonic() - self._fetched_at > self.settings.jwks_cache_seconds
        if kid in self._keys and not stale:
            return self._keys[kid]
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            expired = age > self.settings.jwks_cache_seconds
            # an unknown kid refetches (key rotation), but at most every REFETCH_SECONDS
            if expired or not self._keys or (kid not in self._keys and age > REFETCH_SECONDS):
                await self.refresh_keys()
        key = self._keys.get(kid)
        if key is None and not kid and len(self._keys) == 1:
            key = next(iter(self._keys.values()))
        if key is None:
            raise AuthError(
                "the token is signed with a key the identity provider does not publish",
                reason="unknown_key_id",
            )
        return key

    # ------------------------------------------------------------ verification
    def _cached(self, digest: str) -> Identity | None:
        hit = self._verified.get(digest)
        if hit is None:
            return None
        identity, until = hit
        if time.time() >= until:
            self._verified.pop(digest, None)
            return None
        return identity

    def _remember(self, digest: str, identity: Identity) -> None:
        until = time.time() + TOKEN_CACHE_SECONDS
        if identity.expires_at is not None:
            until = min(until, identity.expires_at)
        self._verified[digest] = (identity, until)
        while len(self._verified) > TOKEN_CACHE_SIZE:
            self._verified.popitem(last=False)

    async def verify(self, token: str) -> Identity:
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cached(digest)
        if cached is not None:
            return cached
        if token.count(".") == 2:
            identity = await self._verify_jwt(token)
        elif self.settings.introspection_url:
            identity = await self._introspect(token)
        else:
            raise AuthError(
                "the bearer token is not a JWT and no introspection is configured", reason="malformed"
            )
        self._check_scopes(identity)
        self._remember(digest, identity)
        return identity

    def _check_scopes(self, identity: Identity) -> None:
        missing = [s for s in self.settings.required_scopes if s not in identity.scopes]
        if missing:
            raise AuthError(
                f"the token lacks the required scope(s) {', '.join(missing)}",
                reason="insufficient_scope",
                status=403,
                scope=" ".join(self.settings.required_scopes),
            )

    async def _verify_jwt(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a well-formed JWT", reason="malformed") from None
        alg = header.get("alg")
        if alg not in self.settings.algorithms:
            raise AuthError(f"tokens signed with {alg!r} are not accepted", reason="algorithm")
        key = await self.signing_key(str(header.get("kid") or ""))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.settings.algorithms),
                audience=self.audiences,
                issuer=self.issuer,
                leeway=self.settings.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired", reason="expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError(
                f"the token was not issued for this UCP (audience must be {self.resource})", reason="audience"
            ) from None
        except jwt.InvalidIssuerError:
            raise AuthError(f"the token was not issued by {self.issuer}", reason="issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthError("the token's signature does not verify", reason="signature") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the token has no {exc.claim!r} claim", reason="claims") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"the token is invalid ({type(exc).__name__})", reason="invalid") from None
        return identity_from_claims(claims, self.settings, "jwt")

    async def _introspect(self, token: str) -> Identity:
        assert self.settings.introspection_url is not None
        secret = self._env.get(self.settings.introspection_client_secret_env, "")
        client_id = self.settings.introspection_client_id
        data = {"token": token, "token_type_hint": "access_token"}
        try:
            if client_id:
                response = await self._http().post(
                    self.settings.introspection_url, data=data, auth=httpx2.BasicAuth(client_id, secret)
                )
            else:
                response = await self._http().post(self.settings.introspection_url, data=data)
            response.raise_for_status()
            claims = response.json()
        except (httpx2.HTTPError, ValueError):
            raise AuthError(
                "cannot reach the token introspection endpoint", reason="idp_unreachable"
            ) from None
        if not isinstance(claims, dict) or not claims.get("active"):
            raise AuthError("the token is not active (introspection)", reason="inactive")
        if claims.get("iss") and claims["iss"] != self.issuer:
            raise AuthError(f"the token was not issued by {self.issuer}", reason="issuer")
        aud = _claim_list(claims.get("aud"))
        if aud and not aud & set(self.audiences):
            raise AuthError(
                f"the token was not issued for this UCP (audience must be {self.resource})", reason="audience"
            )
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and time.time() > exp + self.settings.leeway:
            raise AuthError("the token has expired", reason="expired")
        return identity_from_claims(claims, self.settings, "introspection")
