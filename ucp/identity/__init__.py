"""Who is calling: the ``Identity`` an authenticated request carries into its session.

The HTTP front authenticates (a JWT from the IdP, an introspected opaque token or a
static API key: ``tokens.py``, ``keys.py``) and hands the session layer an
``Identity``; policy, rate limits and the audit log key on it. Sessions that no one
authenticated (stdio, HTTP with auth off) carry ``LOCAL``: the one implicit user of a
single-user install, in the one implicit tenant, allowed everything. Legacy keys
(``[http] api_keys``, ``UCP_API_KEYS``, the token ``ucp serve`` makes for its own CLI) act as
that user too, as they always did; team members get ``ucp keys create`` keys or IdP tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class Identity:
    subject: str
    tenant: str = DEFAULT_TENANT
    via: str = "local"  # local | key | jwt | introspection
    scopes: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)  # granted directly (key config)
    key_id: str | None = None
    expires_at: float | None = None
    client_id: str | None = None
    operator: bool = False  # a legacy key ([http] api_keys, UCP_API_KEYS): acts as the local user

    @property
    def local(self) -> bool:
        """The operator: policy and tenants do not apply (limits and audit still do)."""
        return self.via == "local" or self.operator

    def label(self) -> str:
        return f"{self.subject} ({self.via}, tenant {self.tenant})"


LOCAL = Identity(subject="local")
