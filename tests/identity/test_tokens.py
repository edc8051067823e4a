"""JWT access tokens against a JWKS (signature, expiry, issuer, audience), key rotation, introspection."""

from __future__ import annotations

import time

import pytest

from tests.identity.issuer import ISSUER, RESOURCE, Issuer
from ucp.config.models import AuthSettings
from ucp.errors import AuthError, ConfigError
from ucp.identity.tokens import TokenVerifier, discovery_urls

pytestmark = pytest.mark.anyio


def verifier(issuer: Issuer, **kw: object) -> TokenVerifier:
    settings = AuthSettings(resource=RESOURCE, issuer=ISSUER, **kw)  # type: ignore[arg-type]
    return TokenVerifier(settings, {"SECRET": "s"}, client=issuer.client())


async def reason(v: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthError) as info:
        await v.verify(token)
    assert token not in info.value.message
    return str(info.value.details["reason"])


async def test_a_valid_token_becomes_an_identity_with_scopes_groups_and_tenant() -> None:
    issuer = Issuer()
    v = verifier(issuer)
    token = issuer.mint(sub="alice", scope="tools:read tools:write", groups=["eng"], tenant="acme")
    identity = await v.verify(token)
    assert (identity.subject, identity.tenant, identity.via) == ("alice", "acme", "jwt")
    assert identity.scopes == {"tools:read", "tools:write"} and identity.groups == {"eng"}
    await v.verify(token)
    assert issuer.jwks_fetches == 1  # keys cached; the token itself is remembered too


async def test_expired_wrong_audience_wrong_issuer_tampered_and_none_are_refused() -> None:
    issuer = Issuer()
    v = verifier(issuer)
    assert await reason(v, issuer.mint(ttl=-120)) == "expired"
    assert await reason(v, issuer.mint(aud="https://other.test/mcp")) == "audience"
    assert await reason(v, issuer.mint(iss="https://evil.test")) == "issuer"
    good = issuer.mint()
    head, body, sig = good.split(".")
    flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    assert await reason(v, f"{head}.{body}.{flipped}") == "signature"
    assert await reason(v, issuer.mint(aud=None)) == "claims"
    import jwt as pyjwt

    unsigned = pyjwt.encode(
        {"iss": ISSUER, "aud": RESOURCE, "sub": "x", "exp": time.time() + 60},
        None,  # type: ignore[arg-type]  # the "none" algorithm takes no key
        "none",
    )
    assert await reason(v, unsigned) == "algorithm"
    assert await reason(v, "not-a-jwt") == "malformed"


async def test_rotated_keys_are_fetched_once_on_an_unknown_kid() -> None:
    issuer = Issuer()
    v = verifier(issuer)
    await v.verify(issuer.mint())
    new_kid = issuer.rotate()
    v._fetched_at -= 60  # the last fetch is older than the refetch floor
    identity = await v.verify(issuer.mint(kid=new_kid, sub="bob"))
    assert identity.subject == "bob" and issuer.jwks_fetches == 2
    # a kid the IdP does not publish is refused without hammering it
    issuer.keys["rogue"] = issuer.keys[new_kid]
    assert await reason(v, issuer.mint(kid="rogue")) == "unknown_key_id"
    assert issuer.jwks_fetches == 2


async def test_required_scopes_answer_insufficient_scope() -> None:
    issuer = Issuer()
    v = verifier(issuer, required_scopes=("ucp",))
    assert await reason(v, issuer.mint(scope="other")) == "insufficient_scope"
    assert (await v.verify(issuer.mint(scope="ucp more"))).scopes == {"ucp", "more"}


async def test_opaque_tokens_go_to_introspection() -> None:
    issuer = Issuer()
    v = verifier(issuer, introspection_url=f"{ISSUER}/introspect", introspection_client_id="ucp")
    issuer.active_opaque["opaque-1"] = {
        "active": True,
        "sub": "carol",
        "aud": RESOURCE,
        "iss": ISSUER,
        "exp": time.time() + 60,
        "scope": "a b",
    }
    identity = await v.verify("opaque-1")
    assert (identity.subject, identity.via, identity.scopes) == (
        "carol",
        "introspection",
        frozenset({"a", "b"}),
    )
    assert await reason(v, "opaque-2") == "inactive"
    issuer.active_opaque["opaque-3"] = {**issuer.active_opaque["opaque-1"], "aud": "https://other.test"}
    assert await reason(v, "opaque-3") == "audience"
    no_introspection = verifier(issuer)
    assert await reason(no_introspection, "opaque-1") == "malformed"


def test_discovery_urls_and_config_checks() -> None:
    assert discovery_urls("https://idp.test/realms/x") == [
        "https://idp.test/realms/x/.well-known/openid-configuration",
        "https://idp.test/.well-known/oauth-authorization-server/realms/x",
    ]
    with pytest.raises(ConfigError):
        TokenVerifier(AuthSettings(resource=RESOURCE), {})
