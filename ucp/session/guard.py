"""The guard on the one session-facing path: policy, rate limits and audit, per identity.

``CallPath`` asks ``admit`` before every call (MCP ``tools/call``, the meta call
tools, REST, UTCP and the CLI all end there) and ``done`` after it; the facade
and the exposure modes filter every list and ranking with ``visible``. A tool of
another tenant is "unknown" (its name, schema and existence never leak); a tool
the identity's roles do not allow is denied naming the rule, whether or not it
exists (so a denial says nothing about existence either). Every call, denial and
rate-limit refusal is one audit line.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ucp.config.models import PolicySettings, RateLimitSettings
from ucp.errors import PolicyDeniedError, RateLimitedError
from ucp.identity import DEFAULT_TENANT, Identity
from ucp.policy.audit import AuditLog
from ucp.policy.limits import RateLimiter
from ucp.policy.rules import Decision, Policy
from ucp.router.catalog import CatalogEntry
from ucp.session.state import Session

MAX_CACHED = 50_000


def read_only(entry: CatalogEntry) -> bool:
    ann = entry.tool.annotations
    return bool(ann is not None and ann.read_only_hint)


def server_of(name: str) -> str:
    return name.split("__", 1)[0] if "__" in name else ""


class Guard:
    def __init__(
        self,
        policy: Policy | None = None,
        limiter: RateLimiter | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.policy = policy or Policy(PolicySettings())
        self.limiter = limiter or RateLimiter(RateLimitSettings())
        self.audit = audit
        self._visible: dict[tuple[Any, ...], bool] = {}

    @property
    def filtering(self) -> bool:
        return self.policy.active

    def learns_from(self, identity: Identity) -> bool:
        """Whether this identity's searches and calls feed the shared learning state: not for
        identities of named tenants (their usage must never shift another tenant's rankings)."""
        return not self.policy.multi_tenant or identity.tenant == DEFAULT_TENANT or identity.local

    def learning_scope(self, identity: Identity) -> str:
        """Whose learning state this identity feeds and is ranked by: "" (the shared default one), or
        its named tenant's own."""
        return "" if self.learns_from(identity) else identity.tenant

    # ------------------------------------------------------------ visibility
    def decide(self, identity: Identity, entry: CatalogEntry, arg_bytes: int | None = None) -> Decision:
        return self.policy.decide(
            identity, entry.exposed, entry.server, read_only=read_only(entry), arg_bytes=arg_bytes
        )

    def visible(self, identity: Identity, entry: CatalogEntry) -> bool:
        if identity.local or not self.policy.active:
            return True
        key = (self.policy.roles_of(identity), identity.tenant, entry.exposed, entry.content_hash)
        hit = self._visible.get(key)
        if hit is None:
            if len(self._visible) > MAX_CACHED:
                self._visible.clear()
            hit = self._visible[key] = self.decide(identity, entry).allowed
        return hit

    def filter(self, identity: Identity, entries: Iterable[CatalogEntry]) -> list[CatalogEntry]:
        if identity.local or not self.policy.active:
            return list(entries)
        return [e for e in entries if self.visible(identity, e)]

    def hidden(self, identity: Identity, name: str, entry: CatalogEntry | None) -> bool:
        """Does ``name`` not exist for this identity (unknown, or another tenant's)?"""
        if entry is None:
            return True
        return self.policy.decide(identity, name, entry.server).hidden

    # ------------------------------------------------------------ calls
    def admit(self, session: Session, name: str, entry: CatalogEntry | None, arg_bytes: int) -> None:
        """Raise ``PolicyDeniedError`` / ``RateLimitedError`` (after auditing them), else return."""
        identity = session.identity
        if entry is None:
            decision = self.policy.decide(identity, name, server_of(name))
        else:
            decision = self.decide(identity, entry, arg_bytes)
        if not decision.allowed and not decision.hidden:
            self.record("denied", session, name, outcome="denied", rule=decision.rule)
            raise PolicyDeniedError(decision.message, rule=decision.rule, tool=name)
        if entry is None or self.limiter.shared is not None:
            return  # shared buckets: ``admit_rate``, awaited by the call path
        try:
            self.limiter.acquire(identity, entry.exposed)
        except RateLimitedError as exc:
            self.record("rate_limited", session, name, outcome="rate_limited", rule=exc.details.get("rule"))
            raise

    async def admit_rate(self, session: Session, name: str, entry: CatalogEntry) -> None:
        """The shared rate limits (Redis, one budget across replicas), after ``admit``."""
        if self.limiter.shared is None:
            return
        try:
            await self.limiter.acquire_shared(session.identity, entry.exposed)
        except RateLimitedError as exc:
            self.record("rate_limited", session, name, outcome="rate_limited", rule=exc.details.get("rule"))
            raise

    def record(self, event: str, session: Session, tool: str | None, **fields: Any) -> None:
        if self.audit is not None:
            self.audit.record(event, identity=session.identity, session_id=session.id, tool=tool, **fields)
