"""An in-memory OAuth issuer for unit tests: RSA keys, a JWKS, discovery and introspection
served through ``httpx2.MockTransport`` (no socket). The integration tests use a real IdP."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://idp.test"
RESOURCE = "https://ucp.test/mcp"


class Issuer:
    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.published: list[str] = []
        self.jwks_fetches = 0
        self.active_opaque: dict[str, dict[str, Any]] = {}
        self.rotate()

    def rotate(self) -> str:
        kid = f"k{len(self.keys) + 1}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append(kid)
        return kid

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid in self.published:
            jwk = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}

    def mint(self, *, kid: str | None = None, ttl: float = 300, **claims: Any) -> str:
        now = time.time()
        body = {
            "iss": ISSUER,
            "aud": RESOURCE,
            "sub": "alice",
            "iat": int(now),
            "exp": int(now + ttl),
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        kid = kid or self.published[-1]
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx2.Response(200, json={"issuer": ISSUER, "jwks_uri": f"{ISSUER}/jwks"})
        if path == "/jwks":
            self.jwks_fetches += 1
            return httpx2.Response(200, json=self.jwks())
        if path == "/introspect":
            token = dict(x.split("=", 1) for x in request.content.decode().split("&")).get("token", "")
            return httpx2.Response(200, json=self.active_opaque.get(token, {"active": False}))
        return httpx2.Response(404)

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))
