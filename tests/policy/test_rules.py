"""Roles from scopes, groups and key config; deny over allow; read-only; argument size; tenants."""

from __future__ import annotations

from ucp.config.models import PolicySettings, RoleSettings, TenantSettings
from ucp.identity import LOCAL, Identity
from ucp.policy.rules import Policy

POLICY = PolicySettings(
    roles={
        "dev": RoleSettings(allow=("git__*", "time__*"), deny=("git__reset*",), groups=("eng",)),
        "reader": RoleSettings(read_only=True, scopes=("tools:read",), max_argument_bytes=100),
    }
)


def who(**kw: object) -> Identity:
    return Identity(subject="u", via="jwt", **kw)  # type: ignore[arg-type]


def test_roles_come_from_groups_scopes_and_direct_grants() -> None:
    policy = Policy(POLICY)
    assert policy.roles_of(who(groups=frozenset({"eng"}))) == ("dev",)
    assert policy.roles_of(who(scopes=frozenset({"tools:read"}))) == ("reader",)
    assert policy.roles_of(who(roles=frozenset({"dev", "unknown"}))) == ("dev",)
    assert policy.roles_of(who()) == ()
    assert Policy(POLICY.model_copy(update={"default_role": "reader"})).roles_of(who()) == ("reader",)


def test_decisions_name_the_rule() -> None:
    policy = Policy(POLICY)
    dev = who(groups=frozenset({"eng"}))
    assert policy.decide(dev, "git__status", "git").allowed
    reset = policy.decide(dev, "git__reset", "git")
    assert not reset.allowed and reset.rule == "policy.roles.dev.deny" and "git__reset*" in reset.message
    other = policy.decide(dev, "fs__write", "fs")
    assert other.rule == "policy.roles.dev.allow"
    reader = who(scopes=frozenset({"tools:read"}))
    assert policy.decide(reader, "fs__read", "fs", read_only=True).allowed
    assert policy.decide(reader, "fs__write", "fs", read_only=False).rule == "policy.roles.reader.read_only"
    big = policy.decide(reader, "fs__read", "fs", read_only=True, arg_bytes=500)
    assert big.rule == "policy.roles.reader.max_argument_bytes"
    nobody = policy.decide(who(), "fs__read", "fs")
    assert not nobody.allowed and nobody.rule == "policy.default_role"
    both = who(groups=frozenset({"eng"}), scopes=frozenset({"tools:read"}))
    assert policy.decide(both, "fs__read", "fs", read_only=True).allowed  # any role allowing is enough
    assert policy.decide(LOCAL, "anything__x", "anything").allowed


def test_no_roles_allows_everything_and_tenants_hide_other_tenants_servers() -> None:
    assert Policy(PolicySettings()).decide(who(), "x__y", "x").allowed
    tenants = {"acme": TenantSettings(servers=("acme_*",)), "globex": TenantSettings(servers=("globex_*",))}
    policy = Policy(PolicySettings(), tenants)
    acme, globex = who(tenant="acme"), who(tenant="globex")
    assert policy.decide(acme, "acme_notes__add", "acme_notes").allowed
    hidden = policy.decide(globex, "acme_notes__add", "acme_notes")
    assert hidden.hidden and not hidden.allowed
    assert policy.decide(globex, "shared__ping", "shared").allowed  # no tenant owns it
    assert policy.owner("acme_notes") == "acme" and policy.owner("shared") is None


def test_a_tenant_may_restrict_roles() -> None:
    tenants = {"acme": TenantSettings(roles=("reader",))}
    policy = Policy(POLICY, tenants)
    assert policy.roles_of(
        who(tenant="acme", groups=frozenset({"eng"}), scopes=frozenset({"tools:read"}))
    ) == ("reader",)
