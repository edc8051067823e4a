"""API keys: created hashed with scopes, roles, tenant and expiry; revoked keys refused without a restart."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from ucp.config.models import ApiKeySettings, AuthSettings, HttpSettings
from ucp.errors import AuthError, ConfigError
from ucp.identity.keys import KeyFile, KeyVerifier, config_keys, hash_key


def test_create_stores_only_the_hash_and_verify_gives_the_identity(tmp_path: Path) -> None:
    store = KeyFile(tmp_path / "keys.json")
    plain, record = store.create(subject="ci", scopes=("tools:read",), roles=("reader",), tenant="acme")
    text = (tmp_path / "keys.json").read_text()
    assert plain not in text and record.hash in text
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    verifier = KeyVerifier({}, tmp_path / "keys.json")
    identity = verifier.verify(plain)
    assert (identity.subject, identity.tenant, identity.via, identity.key_id) == (
        "ci",
        "acme",
        "key",
        record.id,
    )
    assert identity.roles == {"reader"} and identity.scopes == {"tools:read"}


def test_revoked_and_expired_keys_are_refused(tmp_path: Path) -> None:
    store = KeyFile(tmp_path / "keys.json")
    plain, record = store.create(expires_in=60, now=1000.0)
    verifier = KeyVerifier({}, tmp_path / "keys.json")
    assert verifier.verify(plain, now=1010.0).key_id == record.id
    with pytest.raises(AuthError) as info:
        verifier.verify(plain, now=1061.0)
    assert info.value.details["reason"] == "expired_key"
    store.revoke(record.id)
    verifier._checked = 0.0  # as a second later
    with pytest.raises(AuthError) as info:
        verifier.verify(plain, now=1010.0)
    assert info.value.details["reason"] == "revoked_key"
    with pytest.raises(AuthError) as info:
        verifier.verify("ucpk_nope_nope")
    assert info.value.details["reason"] == "unknown_key"
    with pytest.raises(ConfigError, match="ucp keys list"):
        store.revoke("missing")


def test_config_and_environment_keys(tmp_path: Path) -> None:
    auth = AuthSettings(keys={"ops": ApiKeySettings(hash=hash_key("ops-key"), roles=("admin",), tenant="t1")})
    keys = config_keys(auth, HttpSettings(api_keys=(hash_key("legacy"),)), {"UCP_API_KEYS": "a, b"})
    verifier = KeyVerifier(keys, None)
    assert verifier.verify("ops-key").roles == {"admin"}
    assert verifier.verify("ops-key").tenant == "t1"
    assert verifier.verify("legacy").roles == frozenset()
    assert verifier.verify("b").via == "key"
    with pytest.raises(ConfigError) as info:
        config_keys(AuthSettings(), HttpSettings(api_keys=("plain-secret",)), {})
    assert "ucp keys create" in info.value.message and "plain-secret" not in info.value.message


def test_an_unreadable_store_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text("{not json")
    with pytest.raises(ConfigError, match="key store"):
        KeyFile(tmp_path / "keys.json").records()
    (tmp_path / "keys.json").write_text(json.dumps({"keys": {}}))
    assert KeyFile(tmp_path / "keys.json").records() == {}
