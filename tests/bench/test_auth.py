"""The auth bench's in-process part: each added step (JWT verify, API key, policy, limits, audit line)
timed on the real code, with the JWKS answered in memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ucp.bench.auth import KEY, _jwt_and_jwks, _toml, step_costs

pytestmark = pytest.mark.anyio


async def test_every_added_step_is_timed_on_the_real_code(tmp_path: Path) -> None:
    steps = await step_costs(5, tmp_path)
    assert set(steps) == {"JWT (cached)", "JWT (first sight)", "API key", "policy", "limits", "audit"}
    assert all(0 < s["p50_us"] <= s["p99_us"] for s in steps.values())
    # verifying a signature costs more than finding an already verified token
    assert steps["JWT (first sight)"]["p50_us"] > steps["JWT (cached)"]["p50_us"]
    lines = (tmp_path / "audit" / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(x)["identity"] == "bench" for x in lines)


def test_the_token_and_the_home_it_is_checked_in(tmp_path: Path) -> None:
    import jwt

    token, jwks = _jwt_and_jwks("https://idp.test", "http://127.0.0.1:1/mcp")
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="http://127.0.0.1:1/mcp")
    assert claims["iss"] == "https://idp.test" and claims["sub"] == "bench"
    env = _toml(tmp_path / "home", {"builtins": False, "http": {"max_body_bytes": 4096}})
    assert env["UCP_API_KEYS"] == KEY and env["UCP_HOME"] == str(tmp_path / "home")
    assert "max_body_bytes = 4096" in (tmp_path / "home" / "ucp.toml").read_text()
