"""Driving the test IdP (``idp.mjs``, oidc-provider) from Python: client-credentials tokens and the
browser step of the authorization-code flow, done headlessly through its login and consent forms."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from mcp.shared.auth import AuthorizationCodeResult


async def client_token(issuer: str, account: str, resource: str) -> str:
    """A client-credentials token of ``<account>-cli`` for ``resource``."""
    async with httpx2.AsyncClient(timeout=10) as http:
        resp = await http.post(
            f"{issuer}/token",
            data={
                "grant_type": "client_credentials",
                "resource": resource,
                "scope": "tools:read tools:write",
            },
            auth=(f"{account}-cli", f"{account}-secret"),
        )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


async def browser_login(
    url: str, account: str, redirect: str, *, deliver: bool = False
) -> AuthorizationCodeResult:
    """What a person does in the browser: the IdP's login form, then its consent form, until the
    IdP redirects to ``redirect`` (which ``deliver`` then visits, as a browser would)."""
    async with httpx2.AsyncClient(timeout=10, follow_redirects=False) as browser:
        resp = await browser.get(url)
        for _ in range(12):
            if resp.status_code in (302, 303):
                location = urljoin(str(resp.url), resp.headers["location"])
                if location.startswith(redirect):
                    q = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                    assert "code" in q, q
                    if deliver:
                        await browser.get(location)
                    return AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))
                resp = await browser.get(location)
                continue
            action = re.search(r'<form[^>]*action="([^"]+)"', resp.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', resp.text)
            assert resp.status_code == 200 and action and prompt, resp.text[:500]
            form = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                form |= {"login": account, "password": "any"}
            resp = await browser.post(urljoin(str(resp.url), html.unescape(action.group(1))), data=form)
    raise AssertionError("the IdP never redirected back")
