"""Per-identity policy: roles from scopes, groups or key config; tenants owning servers.

A role allows tool globs (``server__tool``, ``fnmatch`` syntax), denies others
(deny wins), may be read-only (only tools annotated ``readOnlyHint``) and may cap
the size of a call's arguments. An identity's roles are those granted directly
(key config) plus those whose ``scopes`` or ``groups`` it carries; none matched
gives ``default_role``; a tenant may restrict the roles its identities get. A
tool is usable when any of the identity's roles allows it. No roles configured:
everything is allowed (single-user installs change nothing).

A server owned by a tenant (``[tenants.<t>] servers``) does not exist for the
identities of other tenants: hidden, and a call answers "unknown tool" exactly as
for a name that exists nowhere. Servers no tenant owns are shared. The local
identity (stdio, auth off) is the operator and sees everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ucp.config.models import PolicySettings, RoleSettings, TenantSettings
from ucp.identity import DEFAULT_TENANT, Identity


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str = ""  # the config path of the rule that decided, e.g. policy.roles.viewer.deny
    message: str = ""
    hidden: bool = False  # the tool does not exist for this identity (another tenant's)


ALLOW = Decision(True)


def _matches(name: str, globs: tuple[str, ...]) -> str | None:
    for glob in globs:
        if fnmatchcase(name, glob):
            return glob
    return None


class Policy:
    def __init__(self, settings: PolicySettings, tenants: Mapping[str, TenantSettings] | None = None) -> None:
        self.settings = settings
        self.tenants = dict(tenants or {})
        self._owners: dict[str, str | None] = {}
        self._roles: dict[tuple[object, ...], tuple[str, ...]] = {}

    @property
    def active(self) -> bool:
        return bool(self.settings.roles or self.tenants)

    @property
    def multi_tenant(self) -> bool:
        return bool(self.tenants)

    def owner(self, server: str) -> str | None:
        """The tenant owning ``server``, or ``None`` (shared)."""
        if server not in self._owners:
            self._owners[server] = next(
                (t for t, s in sorted(self.tenants.items()) if _matches(server, s.servers)), None
            )
        return self._owners[server]

    def roles_of(self, identity: Identity) -> tuple[str, ...]:
        key = (identity.roles, identity.scopes, identity.groups, identity.tenant)
        cached = self._roles.get(key)
        if cached is not None:
            return cached
        roles = set(identity.roles) & set(self.settings.roles)
        for name, role in self.settings.roles.items():
            if set(role.scopes) & identity.scopes or set(role.groups) & identity.groups:
                roles.add(name)
        tenant = self.tenants.get(identity.tenant)
        if tenant is not None and tenant.roles:
            roles &= set(tenant.roles)
        if not roles and self.settings.default_role:
            roles = {self.settings.default_role}
        out = tuple(sorted(roles))
        self._roles[key] = out
        return out

    def may_administer(self, identity: Identity) -> bool:
        """May change the service registry over HTTP: the local user, anyone when no roles are
        configured, else identities holding a role with ``admin = true``."""
        if identity.local or not self.settings.roles:
            return True
        return any(self.settings.roles[r].admin for r in self.roles_of(identity) if r in self.settings.roles)

    def _role_decision(
        self, name: str, role_name: str, role: RoleSettings, read_only: bool | None, arg_bytes: int | None
    ) -> Decision:
        where = f"policy.roles.{role_name}"
        denied = _matches(name, role.deny)
        if denied is not None:
            return Decision(False, f"{where}.deny", f"{name} is denied by {where}.deny {denied!r}")
        if _matches(name, role.allow) is None:
            return Decision(False, f"{where}.allow", f"{name} matches no glob of {where}.allow")
        if role.read_only and read_only is False:
            return Decision(
                False,
                f"{where}.read_only",
                f"{where} is read-only and {name} is not annotated readOnlyHint",
            )
        if (
            role.max_argument_bytes is not None
            and arg_bytes is not None
            and arg_bytes > role.max_argument_bytes
        ):
            return Decision(
                False,
                f"{where}.max_argument_bytes",
                f"the arguments are {arg_bytes} bytes; {where}.max_argument_bytes is {role.max_argument_bytes}",
            )
        return ALLOW

    def decide(
        self,
        identity: Identity,
        name: str,
        server: str,
        *,
        read_only: bool | None = None,
        arg_bytes: int | None = None,
    ) -> Decision:
        """May ``identity`` use the tool ``name`` of ``server``? ``read_only`` (the tool's
        ``readOnlyHint``) and ``arg_bytes`` are checked when given."""
        if identity.local:
            return ALLOW
        owner = self.owner(server)
        if owner is not None and owner != identity.tenant:
            return Decision(False, f"tenants.{owner}", f"unknown tool {name!r}", hidden=True)
        if not self.settings.roles:
            return ALLOW
        roles = self.roles_of(identity)
        if not roles:
            return Decision(
                False,
                "policy.default_role",
                f"{identity.subject} has no role: no [policy.roles] scope or group binding matched "
                "and no policy.default_role is set",
            )
        first: Decision | None = None
        for role_name in roles:
            role = self.settings.roles.get(role_name)
            if role is None:
                continue
            decision = self._role_decision(name, role_name, role, read_only, arg_bytes)
            if decision.allowed:
                return decision
            first = first or decision
        return first or Decision(False, "policy.roles", f"no role of {identity.subject} is defined")


def tenant_of(identity: Identity) -> str:
    return identity.tenant or DEFAULT_TENANT
