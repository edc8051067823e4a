"""Policy, tenants, the read-only call tool, rate limits and audit on the one session-facing path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import mcp_types as types
import pytest

from tests.fakes import FakeTransport, tool
from ucp.app import Gateway
from ucp.config.models import (
    Config,
    PolicySettings,
    RateLimitSettings,
    RateSettings,
    RoleSettings,
    TenantSettings,
)
from ucp.config.paths import Paths
from ucp.errors import PolicyDeniedError, RateLimitedError, UnknownSessionError, UnknownToolError
from ucp.identity import Identity
from ucp.policy.audit import read
from ucp.pool.pool import ServerSpec

pytestmark = pytest.mark.anyio

READ = types.ToolAnnotations(read_only_hint=True)
DEV = Identity("dana", via="jwt", groups=frozenset({"eng"}))
READER = Identity("rita", via="jwt", scopes=frozenset({"tools:read"}))
ACME = Identity("ann", tenant="acme", via="key", roles=frozenset({"dev"}))
GLOBEX = Identity("gus", tenant="globex", via="key", roles=frozenset({"dev"}))


def ro(t: types.Tool) -> types.Tool:
    return t.model_copy(update={"annotations": READ})


CONFIG = Config(
    builtins=False,
    policy=PolicySettings(
        roles={
            "dev": RoleSettings(
                allow=("git__*", "acme_notes__*", "globex_notes__*"), deny=("git__reset",), groups=("eng",)
            ),
            "reader": RoleSettings(read_only=True, scopes=("tools:read",)),
        }
    ),
    tenants={"acme": TenantSettings(servers=("acme_*",)), "globex": TenantSettings(servers=("globex_*",))},
    rate_limits=RateLimitSettings(identity=RateSettings(rate=3, per=60)),
)


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[Gateway]:
    fakes = {
        "git": FakeTransport(
            "git", [ro(tool("status", "Show the working tree status")), tool("reset", "Reset HEAD")]
        ),
        "fs": FakeTransport(
            "fs",
            [ro(tool("read", "Read a file", path="string")), tool("write", "Write a file", path="string")],
        ),
        "acme_notes": FakeTransport("acme_notes", [tool("add_note", "Add a note", text="string")]),
        "globex_notes": FakeTransport("globex_notes", [tool("add_note", "Add a note", text="string")]),
    }
    async with Gateway(CONFIG, Paths(tmp_path).ensure(), dense=False) as gateway:
        for name, fake in fakes.items():
            gateway.pool.add(ServerSpec(name, fake))
        await gateway.wait_ready(5)
        await gateway.router.wait_synced()
        gateway.fakes = fakes  # type: ignore[attr-defined]
        yield gateway


def names(views: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(v.name for v in views)


async def test_role_a_sees_and_calls_only_its_tools_role_b_is_denied_naming_the_rule(gw: Gateway) -> None:
    api = gw.api
    assert names(api.tools(identity=DEV)) == ["git__status"]  # reset denied; fs not allowed; tenants' hidden
    assert names(api.tools(identity=READER)) == ["fs__read", "git__status"]
    assert len(api.tools()) == 6  # the local operator sees everything
    dev = api.open(transport="rest", identity=DEV)
    assert [t.name for t in api.list_tools(dev) if not t.name.startswith("ucp__")] == ["git__status"]
    found = await api.search(dev, "reset status file write read", limit=5)
    assert [v.name for v in found.tools] == ["git__status"]
    assert not (await api.call(dev, "git__status", {})).is_error
    with pytest.raises(PolicyDeniedError) as info:
        await api.call(dev, "git__reset", {})
    assert info.value.details["rule"] == "policy.roles.dev.deny" and info.value.http_status == 403
    with pytest.raises(PolicyDeniedError) as info:
        api.describe(dev, "fs__write")
    assert info.value.details["rule"] == "policy.roles.dev.allow"
    with pytest.raises(PolicyDeniedError):  # a denied name is denied whether or not it exists
        await api.call(dev, "fs__nonexistent", {})
    reader = api.open(transport="rest", identity=READER)
    with pytest.raises(PolicyDeniedError) as info:
        await api.call(reader, "fs__write", {"path": "x"})
    assert info.value.details["rule"] == "policy.roles.reader.read_only"
    fakes = gw.fakes  # type: ignore[attr-defined]
    assert fakes["git"].calls == [("status", {})] and fakes["fs"].calls == []
    lines = list(read(gw.paths.audit_dir))
    denied = [x for x in lines if x["event"] == "denied"]
    assert {(x["identity"], x["tool"], x["rule"]) for x in denied} == {
        ("dana", "git__reset", "policy.roles.dev.deny"),
        ("dana", "fs__nonexistent", "policy.roles.dev.allow"),
        ("rita", "fs__write", "policy.roles.reader.read_only"),
    }
    [ok] = [x for x in lines if x["event"] == "call"]
    assert (
        ok["identity"] == "dana" and ok["outcome"] == "ok" and ok["session"] == dev.id and "args_digest" in ok
    )


async def test_tenants_with_the_same_tool_names_are_isolated(gw: Gateway) -> None:
    api = gw.api
    assert names(api.tools(identity=ACME)) == ["acme_notes__add_note", "git__status"]
    assert names(api.tools(identity=GLOBEX)) == ["git__status", "globex_notes__add_note"]
    acme = api.open(transport="rest", identity=ACME)
    await api.call(acme, "acme_notes__add_note", {"text": "hi"})
    with pytest.raises(UnknownToolError) as info:
        await api.call(acme, "globex_notes__add_note", {"text": "hi"})
    assert (
        "globex" not in str(info.value.details.get("suggestions"))
        and "globex" not in info.value.message.split("'")[2]
    )
    with pytest.raises(UnknownToolError):
        api.describe(acme, "globex_notes__add_note")
    found = await api.search(acme, "add a note", limit=5)
    assert [v.name for v in found.tools] == ["acme_notes__add_note"]
    assert gw.fakes["globex_notes"].calls == []  # type: ignore[attr-defined]
    globex = api.open(transport="rest", identity=GLOBEX)
    with pytest.raises(UnknownSessionError):  # another identity's session does not exist for it
        api.get(acme.id, GLOBEX)
    assert api.get(acme.id, ACME) is acme
    assert gw.guard.learns_from(ACME) is False and gw.guard.learns_from(DEV) is True
    assert [x["tenant"] for x in read(gw.paths.audit_dir, event="call")] == ["acme"]
    del globex


async def test_the_read_only_call_tool_refuses_a_mutating_tool(gw: Gateway) -> None:
    api = gw.api
    session = api.open(transport="stdio")  # the local user: policy allows everything
    session.mode = "search"
    refused = await api.call_tool(
        session, "ucp__call_read_only_tool", {"name": "fs__write", "arguments": {"path": "x"}}
    )
    assert refused.is_error and (refused.meta or {})["ucp/error"]["code"] == "not_read_only"
    assert "ucp__call_tool" in refused.content[0].text  # type: ignore[union-attr]
    fine = await api.call_tool(
        session, "ucp__call_read_only_tool", {"name": "fs__read", "arguments": {"path": "x"}}
    )
    assert not fine.is_error
    anything = await api.call_tool(
        session, "ucp__call_tool", {"name": "fs__write", "arguments": {"path": "x"}}
    )
    assert not anything.is_error
    assert gw.fakes["fs"].calls == [("read", {"path": "x"}), ("write", {"path": "x"})]  # type: ignore[attr-defined]


async def test_rate_limit_trips_and_recovers(gw: Gateway) -> None:
    now = [1000.0]
    gw.guard.limiter.clock = lambda: now[0]
    api = gw.api
    dev = api.open(transport="rest", identity=DEV)
    for _ in range(3):
        await api.call(dev, "git__status", {})
    with pytest.raises(RateLimitedError) as info:
        await api.call(dev, "git__status", {})
    assert info.value.details["retry_after"] == 20 and info.value.details["rule"] == "rate_limits.identity"
    dev.mode = "search"
    meta = await api.call_tool(dev, "ucp__call_tool", {"name": "git__status"})
    assert meta.is_error and (meta.meta or {})["ucp/error"]["retry_after"] == 20
    now[0] += 20
    assert not (await api.call(dev, "git__status", {})).is_error
    assert len(gw.fakes["git"].calls) == 4  # type: ignore[attr-defined]
    assert [x["outcome"] for x in read(gw.paths.audit_dir, identity="dana")] == ["ok"] * 3 + [
        "rate_limited"
    ] * 2 + ["ok"]


async def test_a_named_tenant_learns_into_its_own_state_only(gw: Gateway) -> None:
    api = gw.api
    acme = api.open(transport="rest", identity=ACME)
    found = await api.search(acme, "add a note", limit=5)
    assert [v.name for v in found.tools] == ["acme_notes__add_note"]  # filtered before it is recorded
    for _ in range(2):
        await api.call(acme, "acme_notes__add_note", {"text": "hi"})
    own = gw.router.tenant_learners["acme"]
    assert own.tools["acme_notes__add_note"].succeeded == 2
    assert set(own.tools) == {"acme_notes__add_note"}  # only what acme was shown
    default = gw.router.learner_loaded
    assert default is None or "acme_notes__add_note" not in default.tools  # the default state is untouched
    assert "globex" not in gw.router.tenant_learners
    own.save()
    assert (gw.paths.state_dir / "tenants" / "acme.sqlite").exists()
    # the local user (default tenant) still learns into the default state, as before
    local = api.open(transport="stdio")
    await api.search(local, "status", limit=5)
    await api.call(local, "git__status", {})
    assert gw.router.learner is not None and gw.router.learner.tools["git__status"].succeeded == 1
    assert "git__status" not in own.tools
